"""Repository rules that let Bazel 4.2.3 build offline from Debian's packages."""

def _debian_rules_cc_impl(ctx):
    src = ctx.path("/usr/share/bazel/rules/cc")
    if not src.exists:
        fail("rules_cc is missing: run tools/bootstrap (apt-get install bazel-rules-cc)")
    ctx.execute(["cp", "-r", str(src) + "/.", "."])

    # Bazel 4.2.3 has no use_cpp_toolchain(); name the toolchain type directly.
    for f in [
        "cc/private/rules_impl/cc_flags_supplier.bzl",
        "cc/private/rules_impl/compiler_flag.bzl",
    ]:
        text = ctx.read(f)
        text = text.replace(', "use_cpp_toolchain")', ")")
        text = text.replace("use_cpp_toolchain()", '["@bazel_tools//tools/cpp:toolchain_type"]')
        ctx.file(f, text)

debian_rules_cc = repository_rule(
    implementation = _debian_rules_cc_impl,
    local = True,
)

def _local_coverage_tools_impl(ctx):
    ctx.file("stub.sh", "#!/bin/sh\necho 'coverage is not available offline' >&2\nexit 1\n", executable = True)
    ctx.file("BUILD", """
package(default_visibility = ["//visibility:public"])
sh_binary(name = "coverage_report_generator", srcs = ["stub.sh"])
sh_binary(name = "lcov_merger", srcs = ["stub.sh"])
filegroup(name = "coverage_output_generator", srcs = ["stub.sh"])
""")

local_coverage_tools = repository_rule(
    implementation = _local_coverage_tools_impl,
    local = True,
)
