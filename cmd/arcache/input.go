package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"
)

// input is a bin file to read: a named file, or standard input for "-".
type input struct {
	io.Reader
	name string
	size int64 // -1 when unknown
	file *os.File
}

// openInput opens the bin file at path, or standard input for "-".
func openInput(cmd *cobra.Command, path string) (*input, error) {
	if path == "-" {
		return &input{Reader: cmd.InOrStdin(), name: "standard input", size: -1}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	in := &input{Reader: f, name: path, size: -1, file: f}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		in.size = fi.Size()
	}
	return in, nil
}

// Close closes the file, if the input was one.
func (in *input) Close() error {
	if in.file == nil {
		return nil
	}
	return in.file.Close()
}
