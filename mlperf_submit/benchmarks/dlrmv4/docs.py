"""What the submission README says about dlrmv4; the target comes from the rules."""

from mlperf_submit.benchmarks.common.docs import BenchmarkDoc

DOCS = BenchmarkDoc(
    title="Recommendation: DLRMv4, the HSTU ranker on Yambda-5b",
    problem="Predict whether a listener plays the next track through (listen_plus: at least "
    "50 % played) rather than skips it, from the user's listening history.",
    dataset="Yambda-5b (Yandex Music, 4.76 billion events, 1 million users), preprocessed by "
    "the reference's preprocess_public_data.py: processed_5b/train_sessions.parquet, "
    "session_index.parquet, test_events.parquet, item_popularity.npy, split_meta.json and "
    "shared_metadata/{artist,album}_item_mapping.parquet.",
    preprocessing="300 training days, a 30-minute gap, 1 test day; 30-minute sessions. An anchor "
    "is a LISTEN event with 4,086 earlier events of its user; its history is the last 1,362 "
    "events of each pool (listen+, like, skip) among the 20,000 before it, merged in time "
    "order; 7 cross ids are xxh64 hashes of (uid, item, artist, album, hour, is_organic).",
    data_order="Streaming: one-day windows from the first anchor, trained in order (user-major "
    "inside a window), no shuffle; window 299 (the next one) is the evaluation set.",
    model="HSTU (Zhai et al., Actions Speak Louder than Words, ICML 2024) as in the reference "
    "recommendation_v4 (generative_recommenders DlrmHSTU); tables in a TorchRec "
    "EmbeddingCollection with FBGEMM kernels, sharded by DistributedModelParallel.",
    layers="11 tables of dimension 512; contextual, content, additional and action MLPs (hidden "
    "256); position (8,192) and time (2,048) buckets; 3 STU layers of width 512, 4 heads, "
    "128/128 per head, pointwise SiLU attention; time-feature postprocessor; item MLP "
    "1536-512-512; head 512-512-1.",
    init="Tables uniform(-1/sqrt(N), 1/sqrt(N)); UVQK and output weights xavier-uniform; the "
    "transducer's linear layers xavier-normal, the item and head MLPs xavier-uniform, biases 0; "
    "action embeddings N(0, 0.1).",
    loss="0.2 x binary cross entropy with logits on listen_plus, mean over the batch.",
    optimizer="Adam (betas 0.95/0.999, eps 1e-8, no weight decay, gradient clip 1.0) on the "
    "dense part, FBGEMM's fused row-wise Adagrad (eps 1e-8) on the tables; both ramp linearly "
    "from 0 to the target LR over 24,000 steps. Logged values are read back from both.",
    metric="ROC AUC over the whole evaluation window (eval_accuracy), higher is better, from "
    "every score gathered over the ranks.",
    eval_frequency="Every ceil(0.001 x 2,290,835,423 / GBS) steps, on that grid from the point "
    "closed_dlrmv4.yaml's FIRST_CHECK computes (floor((4480 GBS + 135331840) / 3) samples, "
    "rounded up to the grid).",
    eval_thoroughness="All 2,058,204 anchors of the evaluation window at every evaluation.",
    references=(
        "Zhai et al., Actions Speak Louder than Words: Trillion-Parameter Sequential "
        "Transducers for Generative Recommendations, ICML 2024",
        "github.com/mlcommons/training recommendation_v4 (pull request 889)",
    ),
)
