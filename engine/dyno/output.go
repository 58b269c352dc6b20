package dyno

import (
	"bufio"
	"errors"
	"io"
	"strings"
)

// maxLine caps one log line: a longer one is cut into several so that a
// process writing without newlines cannot grow memory without bound.
const maxLine = 64 << 10

// copyLines calls emit for every line read from r until EOF or a read
// error, then closes done. A last line without a newline is emitted too.
func copyLines(r io.Reader, emit func(string), done chan<- struct{}) {
	defer close(done)
	br := bufio.NewReaderSize(r, maxLine)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			emit(strings.TrimSuffix(strings.TrimSuffix(string(chunk), "\n"), "\r"))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
