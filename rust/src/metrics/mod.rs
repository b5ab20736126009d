//! Pose scoring kernels: PCK (canonical and legacy conventions), MPJPE with
//! root / scale / Procrustes alignment, COCO OKS (paired, as a matching cost
//! matrix, and the COCO keypoint AP protocol), and DensePose's GPS, GPSm,
//! part IoU and dpAP of IUV images.
//!
//! Every kernel reads a batch of predicted and ground-truth poses
//! (`[N, J, D]`, frame-major, `D` = 2 or 3) plus an optional visibility mask
//! (`[N, J]`), computes in `f64` whatever the input width, and returns either
//! exact integer counts (PCK) or per-frame values (MPJPE, OKS), so that a
//! streaming accumulator and a one-shot call reduce the same numbers.

pub mod cocoeval;
pub mod densepose;
pub mod mot;
pub mod mpjpe;
pub mod oks;
pub mod pck;
pub mod poses;
pub mod procrustes;
pub mod svd;

pub use poses::PosePair;
