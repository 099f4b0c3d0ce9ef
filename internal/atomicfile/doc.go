// Package atomicfile writes a file so that it is either the old one or the
// whole new one, whatever happens during the write (a kill, a full disk):
// the data goes to a temporary file beside it, which is synced and renamed
// over the target, and the directory is synced so the rename survives a
// crash. Every file crsc writes into a run directory goes through it.
package atomicfile
