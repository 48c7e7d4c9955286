"""Type stubs of the native module (the Rust extension); the public API is ``spnewton``."""

from typing import Callable, Optional

import numpy as np
import numpy.typing as npt

__version__: str

F64 = npt.NDArray[np.float64]

class Csr:
    """A validated CSR matrix over SciPy's arrays (float64 data and int32 indices borrowed)."""

    def __init__(
        self,
        nrows: int,
        ncols: int,
        indptr: npt.NDArray[np.int32] | npt.NDArray[np.int64],
        indices: npt.NDArray[np.int32] | npt.NDArray[np.int64],
        data: F64,
    ) -> None: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def nnz(self) -> int: ...
    @property
    def borrowed(self) -> bool: ...
    def buffer_addresses(self) -> tuple[int, int]: ...

class Hessian:
    """The Hessian at a point: matrix-free products or a dense matrix."""

    @property
    def dim(self) -> int: ...
    def matvec(self, v: F64, threads: Optional[int] = None) -> F64: ...
    def dense(self, threads: Optional[int] = None) -> F64: ...

def minimize(
    a: Csr,
    b: F64,
    loss: str,
    func: str,
    w_const: Optional[float],
    w_rows: Optional[F64],
    x0: Optional[F64],
    hessian: str,
    tol: float,
    atol: float,
    eps0: float,
    delta: float,
    seed: int,
    max_iter: int,
    max_time: Optional[float],
    refresh_every: Optional[int],
    checks: str,
    x_star: Optional[F64],
    threads: Optional[int],
    callback: Optional[Callable[[F64, float, str], bool]],
) -> tuple[F64, F64, str]: ...
def evaluate(
    a: Csr,
    b: F64,
    x: F64,
    loss: str,
    func: str,
    w_const: Optional[float],
    w_rows: Optional[F64],
    hessian: Optional[str],
    threads: Optional[int],
) -> tuple[float, F64, Optional[Hessian]]: ...
def sparsify(
    a: Csr,
    w: F64,
    eps0: float,
    delta: float,
    seed: int,
    method: str,
    oversampling: float,
    threads: Optional[int],
) -> tuple[Optional[npt.NDArray[np.int64]], Optional[F64], Optional[F64], int]: ...
def leverage_scores(a: Csr, w: F64, exact: bool, seed: int, threads: Optional[int]) -> F64: ...
def attention_evaluate(
    a1: F64, a2: F64, a3: F64, b: F64, x: F64, y: F64, loss: str, threads: Optional[int]
) -> tuple[float, F64, F64]: ...
def attention_factors(
    a1: F64, a2: F64, a3: F64, b: F64, q: F64, k: F64, y: F64, loss: str, threads: Optional[int]
) -> tuple[float, F64, F64, F64]: ...
def attention_svm(
    tokens: F64,
    labels: F64,
    head: F64,
    causal: bool,
    c: Optional[float],
    tol: float,
    max_epochs: int,
    seed: int,
) -> tuple[F64, str]: ...
def attention_svm_train(
    tokens: F64,
    labels: F64,
    head: F64,
    causal: bool,
    x_mm: Optional[F64],
    steps: int,
    eta: float,
    normalized: bool,
    record_every: int,
    threads: Optional[int],
) -> tuple[F64, str]: ...
