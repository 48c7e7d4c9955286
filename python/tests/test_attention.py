"""The attention losses and the attention SVM against NumPy and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import spnewton


def reference(A1, A2, A3, B, X, Y):
    """Softmax attention with the ℓ2 loss (SPEC §5), in NumPy: Σ_l ½‖S_l A3_l Y − B_l‖²."""
    total = 0.0
    for l in range(A1.shape[0]):
        Z = A1[l] @ X @ A2[l].T
        S = np.exp(Z - Z.max(axis=1, keepdims=True))
        S /= S.sum(axis=1, keepdims=True)
        total += 0.5 * np.sum((S @ A3[l] @ Y - B[l]) ** 2)
    return total


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    m, n, d = 3, 5, 4
    A1, A2, A3, B = (rng.normal(size=(m, n, d)) * 0.5 for _ in range(4))
    X, Y = rng.normal(size=(d, d)) * 0.3, rng.normal(size=(d, d)) * 0.3
    return A1, A2, A3, B, X, Y


def fd(f, M, h=1e-6):
    g = np.zeros_like(M)
    for idx in np.ndindex(M.shape):
        E = np.zeros_like(M)
        E[idx] = h
        g[idx] = (f(M + E) - f(M - E)) / (2 * h)
    return g


def test_value_and_gradients(data):
    A1, A2, A3, B, X, Y = data
    value, gx, gy = spnewton.attention_loss(A1, A2, A3, B, X, Y)
    assert value == pytest.approx(reference(A1, A2, A3, B, X, Y), rel=1e-12)
    np.testing.assert_allclose(gx, fd(lambda M: reference(A1, A2, A3, B, M, Y), X), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gy, fd(lambda M: reference(A1, A2, A3, B, X, M), Y), rtol=1e-6, atol=1e-8)


def test_factor_gradients(data):
    A1, A2, A3, B, _, Y = data
    rng = np.random.default_rng(1)
    Q, K = rng.normal(size=(4, 2)) * 0.4, rng.normal(size=(4, 2)) * 0.4
    value, gq, gk, gy = spnewton.attention_loss_factors(A1, A2, A3, B, Q, K, Y)
    assert value == pytest.approx(reference(A1, A2, A3, B, Q @ K.T, Y), rel=1e-12)
    np.testing.assert_allclose(gq, fd(lambda M: reference(A1, A2, A3, B, M @ K.T, Y), Q), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gk, fd(lambda M: reference(A1, A2, A3, B, Q @ M.T, Y), K), rtol=1e-6, atol=1e-8)
    assert gy.shape == (4, 4)


def test_attention_errors(data):
    A1, A2, A3, B, X, Y = data
    with pytest.raises(ValueError, match="A2"):
        spnewton.attention_loss(A1, A2[:, :3], A3, B, X, Y)
    with pytest.raises(ValueError, match="X"):
        spnewton.attention_loss(A1, A2, A3, B, X[:3], Y)
    with pytest.raises(ValueError):
        spnewton.attention_loss(A1, A2, A3, B, X, Y, loss="hinge")
    with pytest.raises(ValueError, match="label"):
        spnewton.attention_loss(A1, A2, A3, B, X, Y, loss="logistic")
    bad = A1.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError):
        spnewton.attention_loss(bad, A2, A3, B, X, Y)
    with pytest.raises(ValueError, match="K"):
        spnewton.attention_loss_factors(A1, A2, A3, B, np.ones((4, 2)), np.ones((4, 3)), Y)


def svm_data(seed=0, m=4, n=5, d=6):
    rng = np.random.default_rng(seed)
    tokens = rng.normal(size=(m, n, d))
    labels = np.where(rng.uniform(size=(m, n)) < 0.5, -1.0, 1.0)
    head = rng.normal(size=d)
    return tokens, labels, head


def test_attention_svm_margins():
    tokens, labels, head = svm_data()
    X, info = spnewton.attention_svm(tokens, labels, head)
    assert X.shape == (6, 6)
    if info["status"] == "converged":
        # Every constraint a_iᵀ X (a_opt − a_t) ≥ 1 − tol, checked in NumPy.
        m, n, d = tokens.shape
        scores = tokens @ head
        for l, i, t in info["constraints"]:
            opt = int(np.argmax(labels[l, i] * scores[l]))  # the best token for the label
            margin = tokens[l, i] @ X @ (tokens[l, opt] - tokens[l, t])
            assert margin >= 1 - 1e-6
        assert info["min_margin"] >= 1 - 1e-6
    else:
        assert info["status"] in ("infeasible", "max_epochs")
    Xs, soft = spnewton.attention_svm(tokens, labels, head, C=12.5)
    assert soft["status"] in ("converged", "max_epochs") and Xs.shape == (6, 6)
    with pytest.raises(ValueError):
        spnewton.attention_svm(tokens, labels * 2, head)
    with pytest.raises(ValueError):
        spnewton.attention_svm(tokens, labels, head, C=-1.0)


def test_attention_svm_training_aligns_with_the_max_margin_direction():
    tokens, labels, head = svm_data(seed=3)
    Xmm, info = spnewton.attention_svm(tokens, labels, head, C=12.5)
    X, run = spnewton.attention_svm_train(tokens, labels, head, x_mm=Xmm, steps=200, eta=0.5, record_every=50)
    traj = run["trajectory"]
    assert traj[-1]["x_norm"] > traj[1]["x_norm"]
    assert traj[-1]["cos_mm"] is not None and -1 <= traj[-1]["cos_mm"] <= 1
    assert np.linalg.norm(X) == pytest.approx(traj[-1]["x_norm"], rel=1e-9)
