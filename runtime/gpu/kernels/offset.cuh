// Strided element offsets, prepended to the kernel files that read a view
// through collapsed dims and strides (elementwise.cu, movement.cu).

// view_off returns the offset, in a rank-r view of dimensions dims and
// element strides st (0 along a broadcast dim, negative along a reversed
// one), of element i of the view read in row-major order.
DEVICE i64 view_off(const i64* dims, const i64* st, int r, i64 i) {
  if (r == 1) return i * st[0];  // same shapes collapse to rank 1: no division
  i64 off = 0;
  for (int d = r - 1; d >= 0; d--) {
    i64 c = i % dims[d];
    i /= dims[d];
    off += c * st[d];
  }
  return off;
}
