"""BLAS threads for small linear algebra; matnet's own threads for large passes over data.

NumPy's BLAS and LAPACK split every call over all cores.  For the small matrices of
Levenberg–Marquardt and Bayesian regularisation (``JᵀJ`` of a few hundred parameters)
that gains little on an idle machine and loses much when another process holds a core:
the threads wait for each other.  Measured on this project's 2-core machine (Cholesky
factorisation and solve, median of 7; one busy-loop process on one core):

=====  ==================  ==================
order  idle, 1 / 2 threads  busy, 1 / 2 threads
=====  ==================  ==================
100    0.069 / 0.073 ms    0.065 / 0.064 ms
200    0.30 / 0.28 ms      0.31 / 0.29 ms
400    2.9 / 2.5 ms        7.1 / 5.4 ms
800    16.4 / 12.7 ms      17.8 / 29.9 ms
1600   108 / 73 ms         106 / 161 ms
=====  ==================  ==================

and a whole Levenberg–Marquardt or Bayesian-regularisation epoch of a network with
fewer than :data:`SMALL` parameters loses little alone and nothing under load on one
thread (``benchmarks/busy_machine.py``, seconds per epoch alone / with one busy core:
the maglev demo 1.6 / 5.7 ms with every thread, 1.7 / 1.7 ms on one; 2-20-1 on
100,000 samples 61 / 164 ms and 65 / 66 ms).  So such work runs on one thread
(:func:`few_threads`), scoped to the call: the user's own thread settings are left as
they are.  Larger networks keep every thread.  Levenberg–Marquardt extends the rule to
:data:`~matnet.train.levenberg_marquardt.LM_SMALL` parameters, because the blocks of its
normal equations, its one large product, run meanwhile on threads of matnet's own, one
per BLAS thread the scope took away (:func:`worker_threads`).

Minibatch steps are alike.  Adam epochs of a 20-h-h-1 network, batch 200, 20,000
samples (seconds; multiply-adds of one batch's forward pass; median of 3, 2026-11-30):

=====  ==========  =====================  =====================
h      products    alone, 1 / 2 threads   busy, 1 / 2 threads
=====  ==========  =====================  =====================
64     1.1 M       0.029 / 0.033          0.032 / 0.124
128    3.8 M       0.070 / 0.068          0.070 / 0.186
256    14 M        0.206 / 0.197          0.211 / 0.621
384    31 M        0.419 / 0.342          0.422 / 0.888
512    55 M        0.780 / 0.486          0.776 / 1.433
=====  ==========  =====================  =====================

Below :data:`SMALL_PRODUCTS` a second thread gains nothing alone and triples the time
on a busy machine, so those steps run on one thread; above it the second thread pays
when the machine is idle, and stays.

Passes over the data before training (its check, its scaling's statistics and its scaled
copy) are NumPy's, on one thread; :func:`over_rows` shares the rows of a large one out
to as many threads of matnet's as BLAS may use.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar

try:            # installed with matnet; without it BLAS keeps its own thread settings
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - exercised in a subprocess by the tests
    ThreadpoolController = None

__all__ = ["SMALL", "SMALL_PRODUCTS", "PASS_BYTES", "blas_threads", "few_threads", "one_thread", "over_rows",
           "threads", "worker_threads"]

#: Factorisations and solves of matrices of lower order run on one BLAS thread.
SMALL = 400
#: Minibatch steps of fewer multiply-adds per forward pass run on one BLAS thread
#: (:func:`matnet.train.first_order.minibatch_runner`; see the module docstring).
SMALL_PRODUCTS = 16_000_000

#: Passes over data (checking and scaling it before training) share its rows out to
#: :func:`worker_threads` threads, each taking at least this many bytes (:func:`over_rows`).
PASS_BYTES = 8 * 2 ** 20

_controller = None
_workers = ContextVar("matnet_worker_threads", default=None)   # set by few_threads / one_thread


def few_threads(order, small=SMALL):
    """A context in which BLAS and LAPACK use one thread when ``order < small`` (and
    change nothing otherwise); the previous limits come back on exit.  Work that matnet
    shares out to threads of its own, each on one BLAS thread (:func:`worker_threads`),
    still gets as many threads as BLAS had."""
    return _one_thread(worker_threads()) if order < small else nullcontext()


@contextmanager
def _one_thread(workers):
    token = _workers.set(workers)
    try:
        with threads(1):
            yield
    finally:
        _workers.reset(token)


def worker_threads():
    """How many threads of its own matnet may run side by side, each on one BLAS thread:
    the BLAS threads in effect, or those before a :func:`few_threads` scope (1 in a
    :func:`one_thread` scope)."""
    workers = _workers.get()
    return blas_threads() if workers is None else workers


def blas_threads():
    """How many threads BLAS may use now (1 without threadpoolctl)."""
    controller = _controller_()
    if controller is None:
        return 1
    return max((lib.num_threads for lib in controller.lib_controllers if lib.user_api == "blas"), default=1)


def _controller_():
    """The threadpool controller (which libraries are loaded is looked up once)."""
    global _controller
    if _controller is None and ThreadpoolController is not None:
        _controller = ThreadpoolController()
    return _controller


def threads(n):
    """A context in which BLAS and LAPACK use at most ``n`` threads (``None``: as they
    are); the previous limits come back on exit."""
    if n is None or ThreadpoolController is None:
        return nullcontext()
    return _controller_().limit(limits=int(n), user_api="blas")


def one_thread():
    """A context in which BLAS and LAPACK use one thread and matnet no threads of its own
    (e.g. runs of a sweep, whose results then do not depend on how many run side by side)."""
    return _one_thread(1)


def over_rows(f, n_rows, nbytes):
    """``[f(start, stop)]`` over consecutive ranges of ``n_rows`` rows, in order, for a
    pass over ``nbytes`` bytes: one range per :func:`worker_threads` thread but none of
    less than :data:`PASS_BYTES`, each in a thread of its own; one range on the calling
    thread for a small pass.

    For passes that NumPy runs outside the interpreter lock (ufuncs and reductions on
    blocks of rows).  Measured on 60,000 × 784 float32 (188 MB) with two threads, two
    ranges against one: the scaled copy 15 against 22 ms, the means and variances 14
    against 22 ms, the ranges 10 against 14 ms, the finiteness check 5 against 6 ms; all
    that ``fit`` does before its first SGD epoch, with its defaults, 42 against 55 ms
    (2026-11-30).  Right after a multi-threaded BLAS call (another ``fit``) OpenBLAS's
    threads spin for about 0.1 s and hold a core: the ranges then take about as long as
    one (68 against 63 ms).
    """
    parts = max(1, min(worker_threads(), int(nbytes) // PASS_BYTES, n_rows))
    if parts == 1:
        return [f(0, n_rows)]
    bounds = [n_rows * i // parts for i in range(parts + 1)]
    with ThreadPoolExecutor(parts, thread_name_prefix="matnet-data") as pool:
        return list(pool.map(f, bounds[:-1], bounds[1:]))
