"""The search engine: scoring, FAISS index build/load, gene resolution (docs/search.md).

Arrays and plain records in, arrays and plain records out. Never imports Django, nor torch but on
the gpu path (backends/torch_gpu.py); reads signature files through transform.io (h5py and
pandas). Importing this package loads nothing heavy: import the module you need.

Build (offline; `manage.py build_search_index --signatures DIR [--out INDEX_DIR]` calls it):

    from search.engine.build import BuildSettings, build_index
    from search.engine.sources import signatures_source
    source, provenance = signatures_source(signature_dir)     # python -m transform signatures
    with source:
        manifest = build_index(source, index_dir, BuildSettings(), provenance=provenance)

Query (web and worker processes open the index once and share it):

    from search.engine.index import SearchIndex
    index = SearchIndex.open(index_dir)            # IndexArtifactError if absent or corrupt
    result = index.search(up, down, mode="both", filters={"pert_type": ["trt_cp"]}, k=100,
                          score="rank", path="auto")
    result.table          # DataFrame: sig_id, score, z_up, z_down, z_sum, p_up, p_down, p,
                          #   fdr_up, fdr_down, fdr
                          #   (+ cd_up, cd_down for score="cd"), then the signature metadata
    result.rows           # the same as a list of dicts
    result.report         # genes used and genes outside the index's gene space, per side
    result.path, result.n_searched, result.index_version, result.recall_at_100, result.fdr_exact

    index.similar(sig_id, k=20)                    # Spearman rho over the whole gene space
    index.signature(sig_id, n=50)                  # metadata, top_up / top_down genes
    index.gene_signatures(gene, direction="up", pert_type=None, cell_id=None, limit=25)
    index.gene_values(gene, filters=None)          # one gene across every signature
    index.has_gene(symbol), index.genes, index.version, index.n_signatures, index.describe()

Arguments: up and down are gene symbols already resolved by search.engine.genes.GeneResolver
(either side may be empty; 5 to 2,000 genes each once those outside the gene space are dropped);
mode "both" | "mimic" | "reverse"; score "rank" (SigCom LINCS two-sided rank test) | "cd"
(CD-weighted connectivity); path "auto" | "exact" | "flat" | "gpu" | "fast"; filters
{field: [values]} on pert_type, cell_id, pert_iname, pert_id, pert_dose, pert_time (numbers also
{"min": a, "max": b}), applied before ranking, the FDR taken over the filtered set.
Errors: InvalidQueryError (a query that cannot be scored), UnknownGeneError,
UnknownSignatureError, IndexArtifactError (search.engine.errors).

Modules: query (the query domain: modes, scores, filter fields, gene limits; SideReport),
query_resolution (identifiers -> genes: parse, resolve, report each side), genes and
gene_reference (gene records and identifier tiers), gmt_queries (up/down queries from a GMT),
scores (formulas, p, FDR), searching (one search: rows, paths, ranking), index (SearchIndex),
results (dataclasses), fast (embedding and FAISS), readahead (reading a query's rows ahead),
consensus (a perturbagen's consensus), build, recall (fast-mode calibration), layout (the
directory, index.json, checks), metadata (signature table, filters), sources (GCTX input),
reverse_tables (the reverse-search tables), index_state (health, without loading the index),
errors, cli (`python -m search.engine query|gene`, the engine without Django).
backends/: the exact kernels: cpu (numpy and FAISS: gathers, dense and flat products), compiled
(numba loops for the exact path's hot spots), torch_gpu (the gpu path: the rank matrix in GPU
memory; the engine's only torch import, made when that path is asked for).
"""
