// Package imagefile says which files arcache reads as images: the one
// list that Refresh and the arcache command's import share.
package imagefile
