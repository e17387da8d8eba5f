"""Recommendation models on TorchRec + FBGEMM, shared by dlrm_dcnv2 and dlrmv4.

tables.py   where the embedding tables live and where their optimizer runs: FBGEMM's fused
            kernels in one process (``FusedEmbeddingBagCollection`` / ``...Collection``),
            sharded by ``DistributedModelParallel`` under a process group (table-wise,
            row-wise ... from TorchRec's planner), or stepped after the last micro-batch
            when gradients are accumulated
optim.py    the two-part optimizer the Trainer steps (a torch optimizer for the dense part,
            the tables' fused or stepped one), Adagrad / row-wise Adagrad whose state appears
            at the first step, and the FBGEMM settings read back for the log
auc.py      ROC AUC over the whole evaluation set from per-batch sums the Trainer all-reduces:
            every score at its sample's index (exact) or a fine logit histogram (large sets)
"""
