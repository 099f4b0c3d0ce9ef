// Package data reads labelled text-classification and regression data sets
// (GLUE TSV files, JSON Lines, CSV) and knows the GLUE tasks: their label
// sets and their metrics.
//
// Every row that cannot be read exactly is an error naming the file and
// the line; nothing is dropped or relabelled silently.
package data
