// Device versions of runtime/cpu/fastmath.go, prepended to the kernel files
// that need them (nn.cu, nn_elem.cu) so that both backends round alike.

// exp32 is runtime/cpu's exp32: range reduction by ln2, degree-6 Taylor
// polynomial, scaling through the exponent bits.
DEVICE float exp32(float x) {
    if (x > 88.72283f) return INFINITY;
    if (x < -103.97208f) return 0.0f;
    if (x != x) return x;
    float t = x * 1.442695040888963f;
    t += t < 0 ? -0.5f : 0.5f;
    float n = (float)(int)t;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int e = (int)n;
    if (e < -126) {
        return p * __uint_as_float((u32)(e + 126 + 127) << 23) * __uint_as_float(1u << 23);
    }
    return p * __uint_as_float((u32)(e + 127) << 23);
}
