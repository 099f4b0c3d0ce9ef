// Package study holds experiments that check WTA-CRS on a real model; for
// now the variance study of issue 4: how far the sampled weight gradient
// dŴ = Xsᵀ·G[idx] is from the exact dW = Xᵀ·G for the estimators wta, crs
// and topk (../shared/WTACRS.md §4), on activations and gradients taken
// from a model in the middle of training rather than synthetic matrices.
//
// Run does the whole study (crsc study variance is the command):
//
//  1. Data: a fixed, seeded subset of GLUE SST-2 training sentences,
//     tokenized without a vocabulary file (lowercase, split on non-letters,
//     FNV-1a hash of each word into the vocabulary, [CLS] first, padded).
//  2. Training: a small BERT classifier (models.BuildBertWith) compiled to
//     the exact training graph (passes.Compile, no sampling) and trained
//     with AdamW for a few epochs. Every linear layer's weight gradient in
//     that graph is a Gemm (the compile's Backward.Linear records it) whose
//     inputs are X and G flattened to rows; the runtime returns them
//     (runtime.Options.Keep).
//     At every step the row norms ‖G_i‖ feed the ĝ sources: ema (per layer
//     and position, across steps) and cache (per example and position, from
//     the previous epoch); none is ĝ = 1 and oracle the current ‖G_i‖.
//  3. Snapshot: at the last steps, before the optimizer step, X, G and the
//     ĝ each source offers are kept.
//  4. Measurement: for every layer, keep ratio and source, the CPU
//     runtime's SampleRows kernel (the one training uses) draws R
//     estimates with seeds 1..R; each is scored by ‖dŴ − dW‖_F/‖dW‖_F.
//
// Scoring an estimate does not form dŴ. Writing a_i = x_iᵀg_i, an estimate
// is Σ_i w_i a_i (w_i the scale row i received), and its squared error
// Σ_ij w_i w_j H_ij − 2 Σ_i w_i h_i + ‖dW‖² needs only the Gram matrix
// H_ij = ⟨x_i,x_j⟩·⟨g_i,g_j⟩ (h its row sums), computed once per layer in
// float64: O(k²) per draw instead of O(k·d_in·d_out). The test checks it
// against Xsᵀ·G[idx]. The same H gives each estimator's expected squared
// error in closed form, reported beside the Monte Carlo value: it has no
// sampling noise, and the draws run low where the error is heavy-tailed.
//
// The paper's condition (WTA-CRS beats CRS when P_c > c/k for some
// 1 ≤ c < k, p sorted decreasingly) is evaluated per case with p from the
// same ĝ; it holds exactly when WTA's rule picks c* > 0 winners.
//
// Outputs (Result.WriteFiles): variance.md (setup, tables, notes),
// variance.json (every case) and variance.png (bar chart of the errors
// averaged over layers, per source, estimator and keep ratio).
package study
