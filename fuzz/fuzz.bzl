"""fstun_fuzzer: a libFuzzer target and a regression test over its seed corpus.

    load("//fuzz:fuzz.bzl", "fstun_fuzzer")
    fstun_fuzzer(name = "state_file_fuzzer", srcs = [...], deps = [...])

The source defines LLVMFuzzerTestOneInput (no main). The seed corpus lives in
<package>/corpus/<name>/, one input per file. Makes:
  <name>              cc_binary tagged "fstun_fuzzer". Under --config=fuzz
                      (clang, -fsanitize=fuzzer,address,undefined) it is a
                      libFuzzer binary; otherwise it links
                      //fuzz:standalone_main, which runs the files it is given.
                      tools/fuzz finds targets by the tag.
  <name>_corpus_test  cc_test: every seed file through the target once, in
                      the ordinary suite (and under --config=asan).
See docs/fuzzing.md.
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_test")

def fstun_fuzzer(name, srcs, deps = [], **kwargs):
    corpus = "corpus/%s" % name
    cc_binary(
        name = name,
        srcs = srcs,
        deps = deps + select({
            "//fuzz:fuzzing": [],
            "//conditions:default": ["//fuzz:standalone_main"],
        }),
        linkopts = select({
            "//fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        tags = ["fstun_fuzzer"],
        **kwargs
    )
    cc_test(
        name = name + "_corpus_test",
        size = "small",
        srcs = srcs,
        deps = deps + ["//fuzz:standalone_main"],
        data = native.glob([corpus + "/**"]),
        args = [native.package_name() + "/" + corpus],
        **kwargs
    )
