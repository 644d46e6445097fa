"""Wraps Debian's -dev libraries as cc_library targets, link flags from pkg-config.

The headers live in /usr/include, which the toolchain searches already, so each
target only carries linkopts. After installing a new -dev package, run
`bazel sync --configure` (the rule is local and re-runs then).
"""

def _pkg_config(ctx, modules):
    res = ctx.execute(["pkg-config", "--libs"] + modules.split(" "))
    if res.return_code != 0:
        return None, res.stderr.strip()
    return [f for f in res.stdout.strip().split(" ") if f], None

def _system_libs_impl(ctx):
    build = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, modules in ctx.attr.libs.items():
        flags, err = _pkg_config(ctx, modules)
        if flags == None:
            # Keep the target so that `bazel query //...` works; building it fails clearly.
            build.append('cc_library(name = "%s", srcs = ["missing_%s.cc"])' % (name, name))
            ctx.file("missing_%s.cc" % name, '#error "missing system library %s (%s): run tools/bootstrap"\n' % (name, err.replace('"', "'").replace("\n", " ")))
            continue
        build.append('cc_library(name = "%s", linkopts = %s)' % (name, repr(flags)))
    for name, header in ctx.attr.header_only.items():
        # Header-only: nothing to link; fail clearly if the header is missing.
        if ctx.path("/usr/include/" + header).exists:
            build.append('cc_library(name = "%s")' % name)
        else:
            build.append('cc_library(name = "%s", srcs = ["missing_%s.cc"])' % (name, name))
            ctx.file("missing_%s.cc" % name, '#error "missing system header /usr/include/%s: run tools/bootstrap"\n' % header)
    for name, flags in ctx.attr.extra_linkopts.items():
        build.append('cc_library(name = "%s", linkopts = %s)' % (name, repr(flags.split(" "))))
    ctx.file("BUILD", "\n".join(build) + "\n")

system_libs = repository_rule(
    implementation = _system_libs_impl,
    attrs = {
        "libs": attr.string_dict(),
        "extra_linkopts": attr.string_dict(),
        # name -> a header under /usr/include that must exist (header-only libraries)
        "header_only": attr.string_dict(),
    },
    local = True,
    environ = ["PKG_CONFIG_PATH"],
)
