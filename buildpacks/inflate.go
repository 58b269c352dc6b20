package buildpacks

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"sync"
)

// A slug member says in its trailer how long it inflates to, and is read
// whole into memory, so it can be inflated straight into a buffer of that
// size, the way libdeflate does it: back-references are copies within
// that buffer, eight bytes at a time, with no 32 KiB window to wrap
// around and copy out of, and the bits are read eight bytes at a time.
// Streaming inflaters (the standard library's, klauspost's) cannot assume
// either; on a slug this one takes well under half their time.
//
// It is used only for members (see parallelGunzip.inflate), whose output
// is checked against the trailer's CRC and size like any other's, and it
// refuses anything it is not sure of (an incomplete Huffman code, a
// stream running past its input or its output): the member is then
// inflated again by klauspost's reader, which gives the answer, and the
// error, a streaming reader would. It uses no unsafe code: an index out of
// range is a panic the caller turns into that fallback, never a read or
// write outside the buffers.

// Entries of the decoding tables. The low 5 bits are the bits the code
// takes; bits 8-12 the extra bits that follow it (for a subtable pointer,
// the subtable's index bits); bits 16-31 the value (a literal byte, a
// length or distance base, or a subtable's offset).
const (
	entryLiteral = 1 << 13
	entryEnd     = 1 << 14 // end of block
	entrySub     = 1 << 15 // points to a subtable
	entryInvalid = 1 << 12 // a code no symbol has, or an unused symbol

	litlenBits = 11 // index bits of the literal/length main table
	distBits   = 8
	preBits    = 7
	// Sizes of the tables with every subtable a code of at most 15 bits
	// can need (zlib's enough.c: 2342 for 288 symbols with an 11-bit
	// main table, 402 for 32 with an 8-bit one).
	litlenTableSize = 2342
	distTableSize   = 402
)

var errInflate = errors.New("not a deflate stream this inflater takes")

// Bases and extra bits of the length (257-285) and distance (0-29) codes.
var (
	lengthBase  = [29]uint32{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint32{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint32{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint32{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// preOrder is the order code length code lengths come in.
	preOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// Each symbol's table entry, without the code's length.
var litlenSyms, distSyms, preSyms = func() (l [288]uint32, d [32]uint32, p [19]uint32) {
	for i := range 256 {
		l[i] = entryLiteral | uint32(i)<<16
	}
	l[256] = entryEnd
	for i := range 29 {
		l[257+i] = lengthBase[i]<<16 | lengthExtra[i]<<8
	}
	l[286], l[287] = entryInvalid, entryInvalid
	for i := range 30 {
		d[i] = distBase[i]<<16 | distExtra[i]<<8
	}
	d[30], d[31] = entryInvalid, entryInvalid
	for i := range 19 {
		p[i] = uint32(i) << 16
	}
	return
}()

// fixedTables are the tables of the fixed Huffman codes (block type 1).
var fixedTables = sync.OnceValues(func() (*[litlenTableSize]uint32, *[distTableSize]uint32) {
	var lens [288 + 32]uint8
	for i := range 288 {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	for i := range 32 {
		lens[288+i] = 5
	}
	lt, dt := new([litlenTableSize]uint32), new([distTableSize]uint32)
	if buildTable(lt[:], lens[:288], litlenSyms[:], litlenBits) != nil ||
		buildTable(dt[:], lens[288:], distSyms[:], distBits) != nil {
		panic("inflate: fixed tables")
	}
	return lt, dt
})

// buildTable fills table for the canonical Huffman code of the code
// lengths lens (0: the symbol is unused), symbol i's entry being syms[i]
// with the code's length added. Codes longer than tb bits go to
// subtables after the main table's 1<<tb entries. An over-subscribed code
// is an error, and so is an incomplete one except a single code of one
// bit (which zlib and every inflater accept); indexes no code reaches
// hold entryInvalid. A code with no symbols at all gives a table of
// invalid entries (a block of literals has no distances).
func buildTable(table []uint32, lens []uint8, syms []uint32, tb uint) error {
	var count [16]int
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	maxLen := 15
	for maxLen > 0 && count[maxLen] == 0 {
		maxLen--
	}
	main := table[:1<<tb]
	for i := range main {
		main[i] = entryInvalid
	}
	if maxLen == 0 {
		return nil
	}
	left := 1
	for l := 1; l <= 15; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return errInflate // over-subscribed
		}
	}
	if left > 0 && !(maxLen == 1 && count[1] == 1) {
		return errInflate // incomplete
	}
	var offs [17]int
	for l := 1; l <= 15; l++ {
		offs[l+1] = offs[l] + count[l]
	}
	var sortedBuf [288]uint16
	sorted := sortedBuf[:offs[16]]
	for sym, l := range lens {
		if l != 0 {
			sorted[offs[l]] = uint16(sym)
			offs[l]++
		}
	}
	rem := count
	next := 1 << tb             // where the next subtable goes
	sub, subBits := -1, uint(0) // the current subtable
	prefix := -1
	code, l := 0, 1
	for _, sym := range sorted {
		for rem[l] == 0 {
			l++
			code <<= 1
		}
		rev := int(bits.Reverse16(uint16(code)) >> (16 - l))
		if uint(l) <= tb {
			e := syms[sym] | uint32(l)
			for i := rev; i < len(main); i += 1 << l {
				main[i] = e
			}
		} else {
			if p := rev & (1<<tb - 1); p != prefix {
				// A new subtable, as large as the codes sharing
				// this prefix need.
				prefix = p
				curr := uint(l) - tb
				room := 1 << curr
				for int(curr+tb) < maxLen {
					room -= rem[curr+tb]
					if room <= 0 {
						break
					}
					curr++
					room <<= 1
				}
				if next+1<<curr > len(table) {
					return errInflate
				}
				sub, subBits = next, curr
				next += 1 << curr
				main[p] = entrySub | uint32(tb) | uint32(curr)<<8 | uint32(sub)<<16
			}
			e := syms[sym] | uint32(uint(l)-tb)
			for i := rev >> tb; i < 1<<subBits; i += 1 << (uint(l) - tb) {
				table[sub+i] = e
			}
		}
		rem[l]--
		code++
	}
	return nil
}

// inflater holds the tables of one inflating goroutine.
type inflater struct {
	litlen [litlenTableSize]uint32
	dist   [distTableSize]uint32
	pre    [1 << preBits]uint32
	lens   [288 + 32]uint8
}

// bitReader reads a deflate stream's bits, least significant first, for
// block headers; the decoding loop keeps the same state in locals.
type bitReader struct {
	in      []byte
	pos     int    // next byte of in to load; past len(in) for the zeros read past its end
	buf     uint64 // bits loaded, the next in the low ones; above n, bits of in[pos]
	n       uint   // bits in buf
	overrun int    // zero bytes read past the end
}

// refill loads whole bytes until buf holds at least 56 bits.
func (br *bitReader) refill() {
	if br.pos+8 <= len(br.in) {
		br.buf |= binary.LittleEndian.Uint64(br.in[br.pos:]) << (br.n & 63)
		br.pos += 7 - int(br.n>>3&7)
		br.n |= 56
		return
	}
	for br.n <= 56 {
		if br.pos < len(br.in) {
			br.buf |= uint64(br.in[br.pos]) << (br.n & 63)
		} else {
			br.overrun++
		}
		br.pos++
		br.n += 8
	}
}

// bits takes n (at most 32) bits.
func (br *bitReader) bits(n uint) uint32 {
	if br.n < n {
		br.refill()
	}
	v := uint32(br.buf & (1<<n - 1))
	br.buf >>= n
	br.n -= n
	return v
}

// consumed is the bytes of in taken so far, counting a partly read byte;
// past len(in) when bits past its end were taken.
func (br *bitReader) consumed() int {
	return br.pos - int(br.n>>3)
}

// align drops the bits left of the current byte and the bytes loaded
// ahead, so that pos is the next byte to read.
func (br *bitReader) align() {
	br.pos = br.consumed()
	br.buf, br.n, br.overrun = 0, 0, 0
}

// inflateInto inflates the raw deflate stream in, which must end exactly
// at its end, into out, which it must fill exactly.
func (f *inflater) inflateInto(out, in []byte) (err error) {
	defer func() {
		if recover() != nil {
			err = errInflate
		}
	}()
	br := bitReader{in: in}
	o := 0
	for final := false; !final; {
		br.refill()
		final = br.bits(1) == 1
		var lt *[litlenTableSize]uint32
		var dt *[distTableSize]uint32
		switch br.bits(2) {
		case 0:
			br.align()
			if br.pos+4 > len(in) {
				return errInflate
			}
			n := int(binary.LittleEndian.Uint16(in[br.pos:]))
			if n != int(^binary.LittleEndian.Uint16(in[br.pos+2:])) || br.pos+4+n > len(in) || o+n > len(out) {
				return errInflate
			}
			copy(out[o:], in[br.pos+4:br.pos+4+n])
			o += n
			br.pos += 4 + n
			continue
		case 1:
			lt, dt = fixedTables()
		case 2:
			if err := f.readTables(&br); err != nil {
				return err
			}
			lt, dt = &f.litlen, &f.dist
		default:
			return errInflate
		}
		if o, err = decodeBlock(&br, lt, dt, out, o); err != nil {
			return err
		}
	}
	if o != len(out) || br.consumed() != len(in) {
		return errInflate
	}
	return nil
}

// readTables reads a dynamic block's code lengths and builds its tables.
func (f *inflater) readTables(br *bitReader) error {
	nlit := int(br.bits(5)) + 257
	ndist := int(br.bits(5)) + 1
	npre := int(br.bits(4)) + 4
	if nlit > 286 || ndist > 30 {
		return errInflate
	}
	var preLens [19]uint8
	for i := range npre {
		preLens[preOrder[i]] = uint8(br.bits(3))
	}
	if err := buildTable(f.pre[:], preLens[:], preSyms[:], preBits); err != nil {
		return err
	}
	lens := f.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		if br.n < 16 {
			br.refill()
		}
		e := f.pre[br.buf&(1<<preBits-1)]
		if e&entryInvalid != 0 {
			return errInflate
		}
		br.buf >>= e & 31
		br.n -= uint(e & 31)
		sym := e >> 16
		var v uint8
		var rep int
		switch sym {
		case 16:
			if i == 0 {
				return errInflate
			}
			v, rep = lens[i-1], 3+int(br.bits(2))
		case 17:
			rep = 3 + int(br.bits(3))
		case 18:
			rep = 11 + int(br.bits(7))
		default:
			v, rep = uint8(sym), 1
		}
		if i+rep > len(lens) {
			return errInflate
		}
		for range rep {
			lens[i] = v
			i++
		}
	}
	if lens[256] == 0 {
		return errInflate // no end of block
	}
	if err := buildTable(f.litlen[:], lens[:nlit], litlenSyms[:], litlenBits); err != nil {
		return err
	}
	return buildTable(f.dist[:], lens[nlit:], distSyms[:], distBits)
}

// decodeBlock decodes a Huffman-coded block into out from o and returns
// where it ended. The reader's state lives in locals here: this loop is
// where the time goes.
func decodeBlock(br *bitReader, lt *[litlenTableSize]uint32, dt *[distTableSize]uint32, out []byte, o int) (int, error) {
	in, pos, buf, n, overrun := br.in, br.pos, br.buf, br.n, br.overrun
	defer func() { br.pos, br.buf, br.n, br.overrun = pos, buf, n, overrun }()
	for {
		// Refill to at least 56 bits: enough for the longest
		// length code, its extra bits, the longest distance code and
		// its extra bits (15+5+15+13).
		if pos+8 <= len(in) {
			buf |= binary.LittleEndian.Uint64(in[pos:]) << (n & 63)
			pos += 7 - int(n>>3&7)
			n |= 56
		} else {
			for n <= 56 {
				if pos < len(in) {
					buf |= uint64(in[pos]) << (n & 63)
				} else if overrun++; overrun > 8 {
					return o, errInflate
				}
				pos++
				n += 8
			}
		}
		e := lt[buf&(1<<litlenBits-1)]
		if e&entrySub != 0 {
			buf >>= litlenBits
			n -= litlenBits
			e = lt[int(e>>16)+int(buf&(1<<(e>>8&31)-1))]
		}
		buf >>= e & 31
		n -= uint(e & 31)
		if e&entryLiteral != 0 {
			if o >= len(out) {
				return o, errInflate
			}
			out[o] = byte(e >> 16)
			o++
			// Literals come in runs, and a second one fits in what
			// is left (at least 41 bits) without refilling.
			if e = lt[buf&(1<<litlenBits-1)]; e&entryLiteral != 0 && o < len(out) {
				buf >>= e & 31
				n -= uint(e & 31)
				out[o] = byte(e >> 16)
				o++
			}
			continue
		}
		if e&(entryEnd|entryInvalid) != 0 {
			if e&entryInvalid != 0 {
				return o, errInflate
			}
			return o, nil
		}
		extra := e >> 8 & 31
		length := int(e>>16) + int(buf&(1<<extra-1))
		buf >>= extra
		n -= uint(extra)
		e = dt[buf&(1<<distBits-1)]
		if e&entrySub != 0 {
			buf >>= distBits
			n -= distBits
			e = dt[int(e>>16)+int(buf&(1<<(e>>8&31)-1))]
		}
		if e&entryInvalid != 0 {
			return o, errInflate
		}
		buf >>= e & 31
		n -= uint(e & 31)
		extra = e >> 8 & 31
		dist := int(e>>16) + int(buf&(1<<extra-1))
		buf >>= extra
		n -= uint(extra)
		if dist > o {
			return o, errInflate
		}
		src, end := o-dist, o+length
		switch {
		case dist >= 8 && end+8 <= len(out):
			// Eight bytes at a time, each read from bytes already
			// final; the last may write past end, inside out,
			// which later output overwrites.
			for ; o < end; o, src = o+8, src+8 {
				binary.LittleEndian.PutUint64(out[o:], binary.LittleEndian.Uint64(out[src:]))
			}
			o = end
		case end <= len(out):
			for ; o < end; o, src = o+1, src+1 {
				out[o] = out[src]
			}
		default:
			return o, errInflate
		}
	}
}
