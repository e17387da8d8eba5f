"""What the submission README says about flux1 (Flux.1-schnell on CC12M); the target comes from
the rules."""

from mlperf_submit.benchmarks.common.docs import BenchmarkDoc

DOCS = BenchmarkDoc(
    title="Text to image: Flux.1-schnell",
    problem="Text-to-image generation: training the Flux.1-schnell multimodal diffusion "
    "transformer from scratch with rectified flow (flow matching) to a target validation loss.",
    dataset="CC12M (a cleaned 10 % subset, 1,099,776 image-caption pairs at 256x256) for "
    "training and a 29,696-image COCO-2014 validation subset whose samples each carry a fixed "
    "timestep, as WebDataset tar shards: .jpg + .txt, or pre-encoded VAE posteriors and T5 / "
    "CLIP embeddings as .npy.",
    preprocessing="Raw images: the shorter side resized to 256 (bicubic), a random 256x256 crop, "
    "scaled to [-1, 1]; captions tokenised for T5 (256 tokens) and CLIP (77). The frozen Flux "
    "VAE, T5-XXL and CLIP-L encode them (on the fly, or once ahead of training). 10 % of the "
    "training captions are replaced by the empty caption (classifier-free guidance dropout).",
    data_order="Shards permuted per epoch by a seed shared by all ranks and split over ranks "
    "and loader workers, a seeded shuffle buffer per split; the noise, timestep and caption "
    "dropout of each sample come from a generator seeded by the run seed and the sample key.",
    model="Flux.1-schnell MMDiT written in this package: 19 double-stream blocks (image and "
    "text weights, joint attention) then 38 single-stream blocks, hidden 3,072, 24 heads, MLP "
    "ratio 4, QK-norm, 3-axis rotary position embeddings, adaLN-Zero modulation by the "
    "timestep and the pooled CLIP embedding; 11.9B trained parameters.",
    layers="Image patch embedding (64 = 16 latent channels x 2x2), T5 context embedding "
    "(4,096), timestep and pooled-text MLP embedders, 19 double-stream blocks, 38 "
    "single-stream blocks, adaLN final layer; frozen T5-XXL, CLIP-L text encoders and VAE.",
    init="As the reference: Xavier-uniform linear layers with zero biases, N(0, 0.02) "
    "embedder MLPs, zero adaLN modulation and zero final projection (DiT).",
    loss="Mean squared error between the predicted velocity and noise - data at "
    "x_t = (1 - t) data + t noise, t ~ U(0, 1).",
    optimizer="AdamW (beta1 0.9, beta2 0.95, epsilon 1e-8, weight decay 0.1), gradient "
    "clipping at norm 1.0, linear warm-up then a constant learning rate.",
    metric="Validation loss (eval_accuracy): the mean over the 8 timesteps t = k/8, k = 0..7, "
    "of the mean loss of the validation samples assigned to each; lower is better.",
    eval_frequency="Every 262,144 training samples (6.0.0); every ceil(262,144 / global batch) "
    "steps (6.1.0).",
    eval_thoroughness="All 29,696 validation samples (eval_samples) per evaluation.",
    references=(
        "Esser et al., Scaling Rectified Flow Transformers for High-Resolution Image "
        "Synthesis, ICML 2024",
        "Black Forest Labs, FLUX.1-schnell, 2024",
        "Changpinyo et al., Conceptual 12M, CVPR 2021",
    ),
)
