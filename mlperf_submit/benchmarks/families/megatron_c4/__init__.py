"""C4 tokenised in the Megatron indexed format: the data of the LLM pretraining benchmarks.

indexed.py    the ``.bin``/``.idx`` pair: memory-mapped reader, writer, every error named
files.py      the MLPerf C4 file names and finding them in a directory
windows.py    fixed-length training windows over the token stream, a seeded O(1)-memory
              permutation per epoch, rank shards; the fixed validation windows (C4Splits)
synthetic.py  a learnable Markov-chain "C4" written in the same files, for CPU runs
"""
