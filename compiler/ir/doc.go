// Package ir is crsc's intermediate representation: a Graph of Nodes that
// consume and produce Values, each Value carrying a dtype and a (possibly
// symbolic) shape, plus host Tensors for weights and constants.
//
// One IR carries everything crsc handles: the imported forward graph, the
// derived backward graph, sampling ops and optimizer steps are all ordinary
// nodes. Every pass maps a Graph to a Graph and must leave it in a state that
// Verify accepts; the printer gives a stable text form for golden tests.
package ir
