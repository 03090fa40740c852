/* Placeholder until the pass manager lands; delete when passes/ has real sources. */
typedef int lathe_passes_placeholder_t;
