// The one source of dataflow_test_pch (tests/CMakeLists.txt), the target that builds the test
// binaries' shared precompiled header; it has nothing of its own.
