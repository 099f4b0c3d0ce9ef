#!/usr/bin/python3
"""Regenerate the numpy-written fixtures read by numpy_test.go.

Run from this directory with Debian python3-numpy: /usr/bin/python3 gen.py
The outputs are committed so tests never need Python or numpy.
"""
import numpy as np

fmt = np.lib.format


def save(name, a, version=None):
    with open(name, "wb") as f:
        fmt.write_array(f, a, version=version, allow_pickle=False)


save("f4_2x3.npy", np.arange(6, dtype="<f4").reshape(2, 3) / 4)
save("f8_3.npy", np.array([1.5, -2.25, 1e300], dtype="<f8"))
save("i8_2x2.npy", np.array([[1, -2], [2**62, -(2**63)]], dtype="<i8"))
save("i4_4.npy", np.array([0, -1, 2**31 - 1, -(2**31)], dtype="<i4"))
save("b1_2x2.npy", np.array([[True, False], [False, True]]))
save("u1_3.npy", np.array([0, 128, 255], dtype="u1"))
save("i1_3.npy", np.array([-128, 0, 127], dtype="i1"))
save("f2_6.npy", np.array([1.0, -2.5, 65504.0, 2**-24, np.inf, 0.0], dtype="<f2"))
save("f4_scalar.npy", np.array(3.25, dtype="<f4"))
save("f4_0x3.npy", np.zeros((0, 3), dtype="<f4"))
save("f4_v2.npy", np.array([1, 2, 3], dtype="<f4"), version=(2, 0))
save("f4_v3.npy", np.array([1, 2, 3], dtype="<f4"), version=(3, 0))
save("f4_fortran.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
save("f4_bigendian.npy", np.array([1, 2], dtype=">f4"))

# float32 -> float16 rounding reference, including ties and subnormals.
rng = np.random.default_rng(0)
x = np.concatenate([
    rng.standard_normal(500).astype("<f4") * 10,
    rng.uniform(-1e-4, 1e-4, 300).astype("<f4"),
    np.array([65519, 65520, 1e-8, 2**-25, 3 * 2**-26, 1 + 2**-11, 1 + 3 * 2**-11], dtype="<f4"),
]).astype("<f4")
save("half_in_f4.npy", x)
save("half_out_f2.npy", x.astype("<f2"))
