package arcache

import (
	"encoding/gob"
	"errors"
	"fmt"
	"image"
	"io"
)

// The bin file's pixels pass through a CRC-32C, which costs about a third
// as much as the writing or reading itself; both directions run it on a
// second goroutine, beside the gob encoder or decoder.

// pipeDepth is how many records may wait between the two goroutines.
const pipeDepth = 8

// encodeBin writes a bin file of entries, skipping placeholders.
func encodeBin(w io.Writer, entries []*entry) error {
	enc := gob.NewEncoder(w)
	if err := enc.Encode(binHeader{Magic: binMagic, Version: binVersion}); err != nil {
		return err
	}
	recs := make(chan *binRecord, pipeDepth)
	stop := make(chan struct{})
	defer func() {
		close(stop)
		for range recs { // wait for the goroutine to end
		}
	}()
	go func() {
		defer close(recs)
		for _, e := range entries {
			if e.placeholder {
				continue // never saved: the file it stands for is quarantined
			}
			select {
			case recs <- newRecord(e.key, e.img):
			case <-stop:
				return
			}
		}
	}()
	n := 0
	for r := range recs {
		if err := enc.Encode(binEntry{Record: r}); err != nil {
			return err
		}
		n++
	}
	return enc.Encode(binEntry{Trailer: &binTrailer{Count: n}})
}

type loaded struct {
	key string
	img image.Image
}

// readBin decodes a bin file. It returns the records read before any
// damage, and the damage.
func readBin(r io.Reader) ([]loaded, error) {
	dec := gob.NewDecoder(r)
	var h binHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if h.Magic != binMagic {
		return nil, fmt.Errorf("not an arcache bin file")
	}
	if h.Version != binVersion {
		return nil, fmt.Errorf("format version %d, this arcache reads version %d", h.Version, binVersion)
	}

	// The decoder runs ahead, to the first error; io.EOF after the
	// trailer is the one error a good file ends with.
	type decoded struct {
		e   binEntry
		err error
	}
	entries := make(chan decoded, pipeDepth)
	stop := make(chan struct{})
	defer func() {
		// The decoder reads r: it must be done before r's owner goes on.
		close(stop)
		for range entries {
		}
	}()
	go func() {
		defer close(entries)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var d decoded // fresh each time: gob leaves absent fields alone
			d.err = dec.Decode(&d.e)
			select {
			case entries <- d:
			case <-stop:
				return
			}
			if d.err != nil {
				return
			}
		}
	}()

	var recs []loaded
	for d := range entries {
		switch e := d.e; {
		case d.err != nil:
			if d.err == io.EOF {
				d.err = io.ErrUnexpectedEOF // the trailer is missing
			}
			return recs, fmt.Errorf("record %d: %w", len(recs), d.err)
		case e.Record != nil:
			img, err := e.Record.image()
			if err != nil {
				return recs, fmt.Errorf("record %d: %w", len(recs), err)
			}
			recs = append(recs, loaded{e.Record.Key, img})
		case e.Trailer != nil:
			if e.Trailer.Count != len(recs) {
				return recs, fmt.Errorf("trailer counts %d records, file holds %d", e.Trailer.Count, len(recs))
			}
			if end := <-entries; end.err != io.EOF {
				return recs, errors.New("data after the trailer")
			}
			return recs, nil
		default:
			return recs, fmt.Errorf("record %d: empty", len(recs))
		}
	}
	panic("unreachable: the decoder stops only after sending an error")
}
