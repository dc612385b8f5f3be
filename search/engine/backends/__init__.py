"""How the engine adds up ranks, side by side: `cpu` (numpy, FAISS flat products), `compiled`
(numba loops for the exact path's hot spots) and `torch_gpu` (the rank matrix in GPU memory, the
only module of the engine that imports torch, and only when the gpu path is asked for). Each
gives the exact path's integers, so every backend's z, p and FDR are the same."""
