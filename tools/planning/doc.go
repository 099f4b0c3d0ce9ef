// Package planning answers "how much memory will fine-tuning this model
// take?": it compiles the training graph for a model file or an
// architecture preset (shapes only, no weights), plans its memory, and
// searches the largest batch that fits a budget. `crsc plan` prints it.
package planning
