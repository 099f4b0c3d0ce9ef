// Package data reads labelled text-classification and regression data sets
// (GLUE TSV files, JSON Lines, CSV; pre-tokenized JSON Lines of ids with
// ReadTokenized) and knows the GLUE tasks: their label sets, their metrics
// and their text-to-text form. CustomTask describes any other labelled
// file.
//
// Every row that cannot be read exactly is an error naming the file and
// the line; nothing is dropped or relabelled silently.
package data
