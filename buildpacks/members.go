package buildpacks

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	kgzip "github.com/klauspost/compress/gzip"
)

// Slugs are written as a series of independent gzip members, each of at
// most memberSize bytes of the tar, whose header carries the member's
// own length in an extra field (RFC 1952 allows any number of members,
// which gunzip, `tar xzf` and every gzip library read as one stream, and
// ignore extra fields they do not know). With the lengths an unpacker
// finds where each member starts without inflating what comes before,
// and inflates several at once: inflating is half of what unpacking a
// slug costs, and a single deflate stream can only be inflated in order.
//
// The lengths are a hint, never trusted: a member is used only when the
// deflate data between its header and its trailer ends exactly at the
// trailer and matches the trailer's CRC and size, which is what reading
// the file as one gzip stream would have found there. A length that lies
// makes unpacking fail, never read anything else.
const (
	// memberSize is the tar bytes per member: large enough that the
	// dictionary each member starts without costs little (about 0.1%),
	// small enough to keep two cores busy on a few MiB.
	memberSize = 1 << 20
	// maxMemberOut bounds what one member may inflate to when read in
	// parallel: a member saying it is short may still inflate to far
	// more, which must not be held in memory.
	maxMemberOut = 4 * memberSize
	// maxMemberIn bounds a member read whole into memory: deflate
	// stores what it cannot compress with 5 bytes per 64 KiB block, so
	// a member inflating to at most maxMemberOut is no longer.
	maxMemberIn = maxMemberOut + maxMemberOut/1024 + 1024
	// memberHeaderLen is the header writeSlug gives each member: the
	// fixed 10 bytes with FEXTRA set, XLEN, and one subfield.
	memberHeaderLen = 10 + 2 + 4 + 4
)

// memberSubfield is the ID of the extra subfield holding a member's
// length (little-endian uint32, header and trailer included).
var memberSubfield = [2]byte{'H', 'k'}

// memberHeader returns the gzip header of a member of total length n.
func memberHeader(n int) []byte {
	h := make([]byte, memberHeaderLen)
	h[0], h[1], h[2], h[3] = 0x1f, 0x8b, 8, 0x04 // magic, deflate, FEXTRA
	// mtime 0 (so identical trees make identical slugs), XFL 0
	h[9] = 3 // OS: Unix
	binary.LittleEndian.PutUint16(h[10:], 8)
	h[12], h[13] = memberSubfield[0], memberSubfield[1]
	binary.LittleEndian.PutUint16(h[14:], 4)
	binary.LittleEndian.PutUint32(h[16:], uint32(n))
	return h
}

// parseMemberHeader reads the header at the start of b and returns the
// member's header length and its total length, or ok false when it is
// not a header as memberHeader writes it.
func parseMemberHeader(b []byte) (hdrLen, total int, ok bool) {
	if len(b) < memberHeaderLen || b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 || b[3] != 0x04 ||
		binary.LittleEndian.Uint16(b[10:]) != 8 || b[12] != memberSubfield[0] || b[13] != memberSubfield[1] ||
		binary.LittleEndian.Uint16(b[14:]) != 4 {
		return 0, 0, false
	}
	total = int(binary.LittleEndian.Uint32(b[16:]))
	if total < memberHeaderLen+2+8 { // the shortest deflate stream is 2 bytes
		return 0, 0, false
	}
	return memberHeaderLen, total, true
}

// memberWriter compresses what is written to it into members of
// memberSize input bytes, several at once, and writes them to w in
// order.
type memberWriter struct {
	w       io.Writer
	level   int
	buf     []byte
	order   chan *memberJob // compressed or being compressed, in order
	sem     chan struct{}   // bounds the members being compressed
	done    chan struct{}   // closed when the flusher has written all
	pool    sync.Pool       // input buffers
	flaters sync.Pool       // *flate.Writer, reset for each member
	outs    sync.Pool       // *bytes.Buffer
	errMu   sync.Mutex
	err     error
	written bool
}

type memberJob struct {
	in   []byte
	out  *bytes.Buffer
	err  error
	done chan struct{}
}

// newMemberWriter returns a writer compressing at level on up to
// workers goroutines.
func newMemberWriter(w io.Writer, level, workers int) (*memberWriter, error) {
	if _, err := flate.NewWriter(io.Discard, level); err != nil {
		return nil, err
	}
	mw := &memberWriter{
		w:     w,
		level: level,
		order: make(chan *memberJob, 2*workers),
		sem:   make(chan struct{}, workers),
		done:  make(chan struct{}),
	}
	mw.buf = make([]byte, 0, memberSize)
	go mw.flush()
	return mw, nil
}

func (mw *memberWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := mw.failed(); err != nil {
			return n, err
		}
		k := copy(mw.buf[len(mw.buf):cap(mw.buf)], p)
		mw.buf = mw.buf[:len(mw.buf)+k]
		p, n = p[k:], n+k
		if len(mw.buf) == cap(mw.buf) {
			mw.submit()
		}
	}
	return n, nil
}

// submit queues the buffered input as a member.
func (mw *memberWriter) submit() {
	j := &memberJob{in: mw.buf, done: make(chan struct{})}
	mw.written = true
	mw.order <- j
	mw.sem <- struct{}{}
	go func() {
		defer func() { <-mw.sem; close(j.done) }()
		j.err = mw.compress(j)
	}()
	if b, ok := mw.pool.Get().(*[]byte); ok {
		mw.buf = (*b)[:0]
	} else {
		mw.buf = make([]byte, 0, memberSize)
	}
}

func (mw *memberWriter) compress(j *memberJob) error {
	j.out, _ = mw.outs.Get().(*bytes.Buffer)
	if j.out == nil {
		j.out = new(bytes.Buffer)
	}
	j.out.Reset()
	j.out.Grow(len(j.in) + len(j.in)/64 + memberHeaderLen + 64)
	j.out.Write(make([]byte, memberHeaderLen)) // filled in below
	fw, _ := mw.flaters.Get().(*flate.Writer)
	if fw == nil {
		var err error
		if fw, err = flate.NewWriter(j.out, mw.level); err != nil {
			return err
		}
	} else {
		fw.Reset(j.out)
	}
	defer mw.flaters.Put(fw)
	if _, err := fw.Write(j.in); err != nil {
		return err
	}
	if err := fw.Close(); err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:], crc32.ChecksumIEEE(j.in))
	binary.LittleEndian.PutUint32(trailer[4:], uint32(len(j.in)))
	j.out.Write(trailer[:])
	copy(j.out.Bytes(), memberHeader(j.out.Len()))
	return nil
}

// flush writes the members to w as they are done, in order.
func (mw *memberWriter) flush() {
	defer close(mw.done)
	for j := range mw.order {
		<-j.done
		err := j.err
		if err == nil && mw.failed() == nil {
			_, err = mw.w.Write(j.out.Bytes())
		}
		if err != nil {
			mw.fail(err)
		}
		in := j.in[:0]
		mw.pool.Put(&in)
		if j.out != nil {
			mw.outs.Put(j.out)
		}
	}
}

func (mw *memberWriter) fail(err error) {
	mw.errMu.Lock()
	defer mw.errMu.Unlock()
	if mw.err == nil {
		mw.err = err
	}
}

func (mw *memberWriter) failed() error {
	mw.errMu.Lock()
	defer mw.errMu.Unlock()
	return mw.err
}

// Close compresses what is left and waits until every member is
// written. An empty input still makes one (empty) member, so that the
// output is a gzip file.
func (mw *memberWriter) Close() error {
	if len(mw.buf) > 0 || !mw.written {
		mw.submit()
	}
	close(mw.order)
	<-mw.done
	return mw.failed()
}

// gunzip returns the uncompressed stream of the tar.gz in r. A file
// whose first member says its length (see memberHeader) is inflated
// member by member on several goroutines; anything else, or the rest of
// a file from the first member without a length, is read as one gzip
// stream, inflated ahead of the reader on one goroutine.
func gunzip(r io.Reader) (io.ReadCloser, error) {
	if f, ok := r.(interface {
		io.ReaderAt
		io.Seeker
	}); ok {
		cur, err := f.Seek(0, io.SeekCurrent)
		if err == nil {
			size, err := f.Seek(0, io.SeekEnd)
			if err == nil {
				_, err = f.Seek(cur, io.SeekStart)
			}
			if err != nil {
				return nil, err
			}
			var hdr [memberHeaderLen]byte
			if n, _ := f.ReadAt(hdr[:], cur); n == len(hdr) {
				if _, _, ok := parseMemberHeader(hdr[:]); ok {
					return newParallelGunzip(io.NewSectionReader(f, cur, size-cur), size-cur), nil
				}
			}
		}
	}
	return pgzipReader(r)
}

// parallelGunzip inflates the members of a file in parallel and reads
// them back in order.
type parallelGunzip struct {
	ra    io.ReaderAt
	size  int64
	order chan *memberOut // scheduled members, in file order
	stop  chan struct{}
	wg    sync.WaitGroup
	pool  sync.Pool // *[]byte, inflated members
	ins   sync.Pool // *[]byte, members read
	// flaters holds streaming inflaters to reset for another member,
	// inflaters the tables of inflateInto.
	flaters   sync.Pool
	inflaters sync.Pool
	cur       *memberOut
	pos       int
	err       error
}

// memberOut is one member's inflated bytes, or the reader of the rest
// of the file.
type memberOut struct {
	data []byte
	buf  *[]byte
	err  error
	tail io.ReadCloser
	done chan struct{}
}

// gunzipWorkers is the members inflated at once.
const gunzipWorkers = 2

func newParallelGunzip(ra io.ReaderAt, size int64) *parallelGunzip {
	p := &parallelGunzip{ra: ra, size: size, order: make(chan *memberOut, 2*gunzipWorkers+2), stop: make(chan struct{})}
	p.wg.Add(1)
	go p.schedule()
	return p
}

// schedule walks the members' headers and starts their inflating.
func (p *parallelGunzip) schedule() {
	defer p.wg.Done()
	defer close(p.order)
	sem := make(chan struct{}, gunzipWorkers)
	var hdr [memberHeaderLen]byte
	for off := int64(0); off < p.size; {
		m := &memberOut{done: make(chan struct{})}
		n, err := p.ra.ReadAt(hdr[:], off)
		hdrLen, total, ok := parseMemberHeader(hdr[:n])
		if !ok || int64(total) > p.size-off || total > maxMemberIn {
			// The rest as one stream: members without a length,
			// one too long to read whole, or one whose length runs
			// past the end, which the stream's own reading then
			// refuses.
			if err != nil && err != io.EOF {
				m.err = err
			} else {
				zr, err := kgzip.NewReader(io.NewSectionReader(p.ra, off, p.size-off))
				if err != nil {
					m.err = fmt.Errorf("gzip member at byte %d: %w", off, err)
				} else {
					m.tail = zr
				}
			}
			close(m.done)
			select {
			case p.order <- m:
			case <-p.stop:
				if m.tail != nil {
					m.tail.Close()
				}
			}
			return
		}
		select {
		case p.order <- m:
		case <-p.stop:
			return
		}
		select {
		case sem <- struct{}{}:
		case <-p.stop:
			close(m.done)
			return
		}
		p.wg.Add(1)
		go func(off int64) {
			defer p.wg.Done()
			m.data, m.buf, m.err = p.inflate(off, hdrLen, total)
			if m.err != nil {
				m.err = fmt.Errorf("gzip member at byte %d: %w", off, m.err)
			}
			<-sem
			close(m.done)
		}(off)
		off += int64(total)
	}
}

var errMemberTooLarge = errors.New("inflates to more than its share")

// inflate reads the member of total bytes at off, inflates it, and checks
// that its deflate data ends at its trailer and matches it.
func (p *parallelGunzip) inflate(off int64, hdrLen, total int) ([]byte, *[]byte, error) {
	inBuf, _ := p.ins.Get().(*[]byte)
	if inBuf == nil {
		inBuf = new([]byte)
	}
	defer p.ins.Put(inBuf)
	if cap(*inBuf) < total {
		*inBuf = make([]byte, total)
	}
	in := (*inBuf)[:total]
	if _, err := p.ra.ReadAt(in, off); err != nil {
		return nil, nil, err
	}
	buf, _ := p.pool.Get().(*[]byte)
	if buf == nil {
		b := make([]byte, 0, memberSize)
		buf = &b
	}
	trailer := in[total-8:]
	// Inflated straight into a buffer of the size the trailer gives
	// (see inflateInto); a member it does not take is read again as a
	// stream below, which also words the error.
	if size := int(binary.LittleEndian.Uint32(trailer[4:])); size <= maxMemberOut {
		if cap(*buf) < size {
			*buf = make([]byte, 0, size)
		}
		out := (*buf)[:size]
		fl, _ := p.inflaters.Get().(*inflater)
		if fl == nil {
			fl = new(inflater)
		}
		err := fl.inflateInto(out, in[hdrLen:total-8])
		p.inflaters.Put(fl)
		if err == nil && binary.LittleEndian.Uint32(trailer) == crc32.ChecksumIEEE(out) {
			*buf = out
			return out, buf, nil
		}
	}
	body := bytes.NewReader(in[hdrLen : total-8])
	fr, _ := p.flaters.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(body)
	} else if err := fr.(flate.Resetter).Reset(body, nil); err != nil {
		return nil, nil, err
	}
	defer p.flaters.Put(fr)
	out, err := inflateAll(fr, (*buf)[:0])
	*buf = out
	switch {
	case err != nil:
	case body.Len() != 0:
		err = errors.New("deflate data ends before the trailer")
	case binary.LittleEndian.Uint32(trailer) != crc32.ChecksumIEEE(out):
		err = kgzip.ErrChecksum
	case binary.LittleEndian.Uint32(trailer[4:]) != uint32(len(out)):
		err = errors.New("size does not match its trailer")
	}
	if err != nil {
		p.pool.Put(buf)
		return nil, nil, err
	}
	return out, buf, nil
}

// inflateAll appends what fr inflates to out, up to maxMemberOut bytes.
func inflateAll(fr io.Reader, out []byte) ([]byte, error) {
	for {
		if len(out) >= maxMemberOut {
			var one [1]byte
			for {
				n, err := fr.Read(one[:])
				switch {
				case n > 0:
					return out, errMemberTooLarge
				case err == io.EOF:
					return out, nil
				case err != nil:
					return out, err
				}
			}
		}
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := fr.Read(out[len(out):min(cap(out), maxMemberOut)])
		out = out[:len(out)+n]
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func (p *parallelGunzip) Read(b []byte) (int, error) {
	for {
		if p.err != nil {
			return 0, p.err
		}
		if m := p.cur; m != nil {
			if m.tail != nil {
				return m.tail.Read(b)
			}
			if p.pos < len(m.data) {
				n := copy(b, m.data[p.pos:])
				p.pos += n
				return n, nil
			}
			p.pool.Put(m.buf)
			p.cur = nil
		}
		m, ok := <-p.order
		if !ok {
			p.err = io.EOF
			continue
		}
		<-m.done
		if m.err != nil {
			p.err = m.err
			continue
		}
		p.cur, p.pos = m, 0
	}
}

// Close stops the inflating and waits for it.
func (p *parallelGunzip) Close() error {
	close(p.stop)
	for m := range p.order {
		<-m.done
		if m.tail != nil {
			m.tail.Close()
		}
	}
	p.wg.Wait()
	if p.cur != nil && p.cur.tail != nil {
		p.cur.tail.Close()
	}
	return nil
}
