//go:build !unix

package engine

import "io/fs"

// fileID names a file across hard links; without Unix there is none.
type fileID struct{}

// allocated returns the file's size: blocks are a Unix notion.
func allocated(fi fs.FileInfo) (int64, fileID, bool) { return fi.Size(), fileID{}, false }
