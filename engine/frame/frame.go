// Package frame is the small wire format hako uses where one connection
// carries several streams: the git hook's output and exit status, and an
// attached one-off dyno's input, output, window size and exit status.
// Each frame is a kind byte, a 4-byte big-endian length and a payload.
package frame

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
)

// Frame kinds.
const (
	Output = 'o' // bytes for the user's terminal
	Input  = 'i' // bytes for the dyno's standard input
	EOF    = 'e' // the end of standard input
	Resize = 'r' // a terminal size: columns and rows, 2 bytes each
	Name   = 'n' // the name of the dyno that started (run.1234)
	Exit   = 'x' // the exit status, one byte; the last frame
	Result = 'j' // a JSON document describing the outcome (a test run's)
)

// MaxPayload bounds a frame so a broken peer cannot make the reader
// allocate without limit.
const MaxPayload = 1 << 20

// Read reads one frame.
func Read(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxPayload {
		return 0, nil, errors.New("frame too large")
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return hdr[0], p, err
}

// Writer writes frames; it is safe for concurrent use, since a dyno's
// stdout and stderr are copied by separate goroutines.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Frame writes one frame of kind with payload p.
func (f *Writer) Frame(kind byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	buf := make([]byte, 5+len(p))
	buf[0] = kind
	binary.BigEndian.PutUint32(buf[1:5], uint32(len(p)))
	copy(buf[5:], p)
	_, err := f.w.Write(buf)
	return err
}

// Write sends p as Output frames, so a Writer can stand where an
// io.Writer of the user's output is expected.
func (f *Writer) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += 1 << 16 {
		end := min(off+1<<16, len(p))
		if err := f.Frame(Output, p[off:end]); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// ResizePayload encodes a terminal size.
func ResizePayload(cols, rows uint16) []byte {
	var b [4]byte
	binary.BigEndian.PutUint16(b[0:], cols)
	binary.BigEndian.PutUint16(b[2:], rows)
	return b[:]
}

// ParseResize decodes a terminal size; ok is false for a bad payload.
func ParseResize(p []byte) (cols, rows uint16, ok bool) {
	if len(p) != 4 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(p[0:]), binary.BigEndian.Uint16(p[2:]), true
}
