"""What the submission README says about dlrm_dcnv2; the target comes from the rules."""

from mlperf_submit.benchmarks.common.docs import BenchmarkDoc

DOCS = BenchmarkDoc(
    title="Recommendation: DLRM-DCNv2 on Criteo 1TB (multi-hot)",
    problem="Predict whether a displayed ad is clicked (binary click-through rate), from 13 "
    "numeric and 26 categorical features.",
    dataset="Criteo 1TB Click Logs (24 days, 4.2 billion training rows), preprocessed by the "
    "reference's process_Criteo_1TB_Click_Logs_dataset.sh into day_N_dense.npy (float32, "
    "log-transformed), day_N_sparse.npy (int32 ids) and day_N_labels.npy per day, or the "
    "reference's materialized multi-hot day_N_sparse_multi_hot.npz.",
    preprocessing="Dense features log(x + 2) (preprocessing); categorical ids taken modulo the "
    "table sizes (four tables capped at 40M rows) and expanded to the MLPerf v2 multi-hot "
    "bags (sizes 1-100 per feature) by the reference's lookup tables drawn from "
    "numpy.random.seed(0).",
    data_order="Days 0-22 in file order (already shuffled by preprocessing), one epoch; "
    "global batch s is rows [s*G, (s+1)*G), rank r takes its r-th slice. The first half of "
    "day 23 is the validation set.",
    model="DLRM with a DCN-v2 interaction (Wang et al. 2020), TorchRec's DLRM_DCN as in the "
    "reference recommendation_v2/torchrec_dlrm; embedding tables through TorchRec "
    "(EmbeddingBagCollection + KeyedJaggedTensor) with FBGEMM kernels, sharded by "
    "DistributedModelParallel on more than one rank.",
    layers="26 embedding tables of dimension 128 (sum-pooled multi-hot bags), bottom MLP "
    "512-256-128, 3 low-rank (512) cross layers, top MLP 1024-1024-512-256-1.",
    init="TorchRec defaults: tables uniform(-sqrt(1/N), sqrt(1/N)), MLPs and cross layers as "
    "torchrec.models.dlrm initialises them.",
    loss="Binary cross entropy with logits, mean over the batch.",
    optimizer="Adagrad (eps 1e-8, no LR decay, no weight decay, accumulators from 0): torch's "
    "on the dense part, FBGEMM's fused EXACT_ADAGRAD on the tables (applied in backward); "
    "constant LR. Logged values are read back from both optimizers.",
    metric="ROC AUC over the whole validation set (eval_accuracy), higher is better, "
    "computed from every score gathered over the ranks.",
    eval_frequency="Every floor(train_samples / (global batch x 20)) steps (about every 0.05 "
    "epoch); epoch_num is the epoch fraction.",
    eval_thoroughness="All 89,137,319 validation rows at every evaluation.",
    references=(
        "Naumov et al., Deep Learning Recommendation Model for Personalization and "
        "Recommendation Systems, 2019",
        "Wang et al., DCN V2: Improved Deep & Cross Network, 2020",
        "github.com/mlcommons/training recommendation_v2/torchrec_dlrm",
    ),
)
