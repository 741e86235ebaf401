//! What the tests and the benchmarks (`bench/`) share, compiled only with the
//! `test-support` feature (and in the library's own unit tests): the shipping binary
//! carries none of it. Tests get the feature through the package's dev-dependency on
//! itself; `transcoder-bench` names it in its dependency on the library.

pub mod clip;
pub mod pg;
