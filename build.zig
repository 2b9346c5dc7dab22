//! ringpad's one build system. Run it through ./zigw (pinned Zig + system packages).
//!
//!   ./zigw build                 install the server (ReleaseSafe), its web root and man page into zig-out/
//!   ./zigw build run -- ARGS     build and run the server (ReleaseSafe; http://127.0.0.1:8080)
//!   ./zigw build test            every suite (Debug + UBSan): tidy, Criterion units/properties, integration
//!   ./zigw build tidy            the house rules alone (tests/tidy/tidy.mjs)
//!   ./zigw build tools           ringpad-tests, ringpad-bench, ringpad-ot-bench into zig-out/bin
//!   ./zigw build bench-ot        OT micro-benchmark (use -Doptimize=ReleaseFast)
//!   ./zigw build fuzz            libFuzzer targets (system clang), bounded runs
//!   -Doptimize=MODE              one mode for everything (default: ReleaseSafe for the
//!                                installed server and `run`, Debug for tests and tools)
//!   -Dsanitize=address           ASan + LSan build (system clang runtime)
//!
//! Sources are discovered by folder so that adding a file never needs an edit here:
//!   ot/*.c          -> libringpad_ot   (the OT engine: no I/O)
//!   src/**/*.c      -> libringpad_core (the server, one folder per layer), except
//!                      src/cmd/main.c -> ringpad
//!   tests/unit/**/*.c -> ringpad-tests (one Criterion binary: every unit/property suite)
//!   tests/fuzz/*.c  -> one libFuzzer binary per file (built with system clang)
const std = @import("std");

const Sanitize = enum { none, address };

const c_flags_common = [_][]const u8{
    "-std=c17",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wshadow",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
    "-D_GNU_SOURCE",
    "-fno-omit-frame-pointer",
};

/// Every `*.c` in `dir` (relative to the build root), sorted; the build is
/// re-configured when files are added or removed.
fn cFilesIn(b: *std.Build, dir: []const u8, exclude: []const []const u8) []const []const u8 {
    const io = b.graph.io;
    // git keeps no empty folders: a folder that does not exist yet has no sources.
    if (!fileExists(b, dir)) return &.{};
    b.dependOnDirectoryContents(b.path(dir));
    var list: std.ArrayList([]const u8) = .empty;
    var handle = b.root.root_dir.handle.openDir(io, rootSub(b, dir), .{ .iterate = true }) catch return &.{};
    defer handle.close(io);
    var it = handle.iterate();
    outer: while (it.next(io) catch null) |entry| {
        if (entry.kind != .file or !std.mem.endsWith(u8, entry.name, ".c")) continue;
        for (exclude) |skip| if (std.mem.eql(u8, skip, entry.name)) continue :outer;
        list.append(b.allocator, b.fmt("{s}/{s}", .{ dir, entry.name })) catch @panic("OOM");
    }
    return sortPaths(list.items);
}

const Ctx = struct {
    b: *std.Build,
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
    sanitize: Sanitize,
    flags: []const []const u8,

    fn module(ctx: Ctx) *std.Build.Module {
        const m = ctx.b.createModule(.{
            .target = ctx.target,
            .optimize = ctx.optimize,
            .link_libc = true,
            // Debug keeps Zig's C sanitizer (UBSan with a stack trace); ASan builds
            // use clang's runtime instead, and the two runtimes do not mix.
            .sanitize_c = if (ctx.sanitize == .address) .off else null,
            .omit_frame_pointer = false,
        });
        m.addIncludePath(ctx.b.path("include"));
        m.addIncludePath(ctx.b.path("src"));
        m.addIncludePath(ctx.b.path("ot"));
        return m;
    }

    /// A static library of `files`, or null while the folder has no sources yet.
    fn staticLib(ctx: Ctx, name: []const u8, files: []const []const u8) ?*std.Build.Step.Compile {
        if (files.len == 0) return null;
        const m = ctx.module();
        m.addCSourceFiles(.{ .files = files, .flags = ctx.flags });
        return ctx.b.addLibrary(.{ .name = name, .root_module = m, .linkage = .static });
    }

    fn linkOptional(ctx: Ctx, m: *std.Build.Module, libs: []const ?*std.Build.Step.Compile) void {
        _ = ctx;
        for (libs) |maybe| if (maybe) |lib| m.linkLibrary(lib);
    }

    fn linkServerLibs(ctx: Ctx, m: *std.Build.Module) void {
        _ = ctx;
        for ([_][]const u8{ "uring", "wolfssl", "z", "jansson", "hiredis" }) |lib|
            m.linkSystemLibrary(lib, .{ .use_pkg_config = .no });
        m.linkSystemLibrary("pthread", .{});
    }

    fn linkAsan(ctx: Ctx, m: *std.Build.Module) void {
        if (ctx.sanitize != .address) return;
        // Zig ships no ASan runtime: link clang's (libclang-rt-14-dev).
        m.addObjectFile(.{ .cwd_relative = asanRuntime(ctx.b) });
        m.linkSystemLibrary("dl", .{});
        m.linkSystemLibrary("m", .{});
        m.linkSystemLibrary("rt", .{});
        m.linkSystemLibrary("gcc_s", .{});
    }
};

fn asanRuntime(b: *std.Build) []const u8 {
    const io = b.graph.io;
    const base = "/usr/lib/llvm-14/lib/clang";
    var dir = std.Io.Dir.openDirAbsolute(io, base, .{ .iterate = true }) catch
        @panic("-Dsanitize=address needs libclang-rt-14-dev (./zigw installs it)");
    defer dir.close(io);
    var it = dir.iterate();
    while (it.next(io) catch null) |entry| {
        const p = b.fmt("{s}/{s}/lib/linux/libclang_rt.asan-x86_64.a", .{ base, entry.name });
        std.Io.Dir.accessAbsolute(io, p, .{}) catch continue;
        return p;
    }
    @panic("libclang_rt.asan-x86_64.a not found under /usr/lib/llvm-14");
}

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    // One explicit -Doptimize applies to everything; without it the server that
    // is installed and run is ReleaseSafe (checked arithmetic and bounds, fast)
    // and what the tests and tools build is Debug with Zig's UBSan.
    const optimize_opt = b.option(std.builtin.Optimize, "optimize", "Debug, ReleaseSafe, ReleaseFast or ReleaseSmall (default: ReleaseSafe for install/run, Debug for test/tools)");
    const release_mode: std.builtin.Optimize = optimize_opt orelse .ReleaseSafe;
    const optimize: std.builtin.Optimize = optimize_opt orelse .Debug;
    const sanitize = b.option(Sanitize, "sanitize", "Extra sanitizer: none (default; Debug keeps UBSan) or address (ASan+LSan)") orelse .none;

    var flags: std.ArrayList([]const u8) = .empty;
    flags.appendSlice(b.allocator, &c_flags_common) catch @panic("OOM");
    if (sanitize == .address) flags.appendSlice(b.allocator, &.{ "-fsanitize=address", "-fno-sanitize-recover=all" }) catch @panic("OOM");
    const ctx: Ctx = .{ .b = b, .target = target, .optimize = optimize, .sanitize = sanitize, .flags = flags.items };
    const build_info = buildInfo(b);

    // ---- the server: the development build (tests, tools) and the installed one ----
    const dev = serverBuild(ctx, build_info);
    const ot_lib = dev.ot_lib;
    const core_lib = dev.core_lib;
    const server = dev.server;
    const installed_server = if (release_mode == optimize) server else blk: {
        var rctx = ctx;
        rctx.optimize = release_mode;
        break :blk serverBuild(rctx, build_info).server;
    };
    b.installArtifact(installed_server);
    // `zig build tools`: the development binaries, never part of `install`.
    const tools_step = b.step("tools", "Build ringpad-tests, ringpad-bench and ringpad-ot-bench into zig-out/bin");

    // The man page is ringpad's own --help table, rendered as roff.
    const man_run = b.addRunArtifact(installed_server);
    man_run.addArg("--man");
    const man_page = man_run.captureStdOut(.{ .basename = "ringpad.1" });
    b.getInstallStep().dependOn(&b.addInstallFileWithDir(man_page, .{ .custom = "share/man/man1" }, "ringpad.1").step);

    // The web editor: npm ci (only when web/package-lock.json is newer than
    // web/node_modules), then esbuild bundles web/src with the pages of web/public
    // (plus .js.gz/.css.gz siblings) into a cached folder that is installed.
    const web_deps = b.addSystemCommand(&.{"node"});
    web_deps.setName("web: npm ci if the lockfile changed");
    web_deps.addFileArg(b.path("web/scripts/ensure-deps.mjs"));
    web_deps.has_side_effects = true;
    const web_bundle = b.addSystemCommand(&.{"node"});
    web_bundle.setName("web: bundle");
    web_bundle.addFileArg(b.path("web/scripts/build.mjs"));
    const web_dist = web_bundle.addOutputDirectoryArg("web");
    web_bundle.addFileInput(b.path("web/package-lock.json"));
    addFileInputsUnder(b, web_bundle, "web/src");
    // The editor's OT client and connection are the JS SDK's modules.
    addFileInputsUnder(b, web_bundle, "clients/js/src");
    addFileInputsUnder(b, web_bundle, "web/public");
    web_bundle.step.dependOn(&web_deps.step);
    const web_install = b.addInstallDirectory(.{
        .source_dir = web_dist,
        .install_dir = .prefix,
        .install_subdir = "share/ringpad/web",
    });
    b.getInstallStep().dependOn(&web_install.step);
    const web_root = b.graph.path(.install_prefix, "share/ringpad/web");

    // The server with allocation-failure injection (tests/faultalloc): a test
    // tool (zig-out/bin with `tools`), never installed. Not under ASan, whose
    // runtime owns malloc itself.
    var faultalloc: ?*std.Build.Step.Compile = null;
    if (sanitize == .none and fileExists(b, "tests/faultalloc/faultalloc.c")) {
        const fa_mod = ctx.module();
        fa_mod.addIncludePath(build_info.header.dirname());
        fa_mod.addCSourceFiles(.{ .files = &.{"src/cmd/main.c"}, .flags = dev.main_flags });
        fa_mod.addCSourceFiles(.{ .files = &.{"tests/faultalloc/faultalloc.c"}, .flags = ctx.flags });
        ctx.linkOptional(fa_mod, &.{ core_lib, ot_lib });
        ctx.linkServerLibs(fa_mod);
        fa_mod.linkSystemLibrary("dl", .{});
        const fa_exe = b.addExecutable(.{ .name = "ringpad-faultalloc", .root_module = fa_mod });
        tools_step.dependOn(&b.addInstallArtifact(fa_exe, .{}).step);
        faultalloc = fa_exe;
    }

    const run_step = b.step("run", "Build and serve on http://127.0.0.1:8080 (pass flags after --)");
    const run = b.addRunArtifact(installed_server);
    run.addArg("--web-root");
    run.addDirectoryArg(web_root);
    run.addPassthruArgs();
    run.step.dependOn(b.getInstallStep());
    run_step.dependOn(&run.step);

    // ---- the load generator: bench/loadgen/*.c (main.c -> ringpad-bench) ------------
    const bench_lib = ctx.staticLib("ringpad_bench", cFilesIn(b, "bench/loadgen", &.{"main.c"}));
    var loadgen_exe: ?*std.Build.Step.Compile = null;
    if (fileExists(b, "bench/loadgen/main.c")) {
        const loadgen_mod = ctx.module();
        loadgen_mod.addIncludePath(b.path("bench/loadgen"));
        loadgen_mod.addCSourceFiles(.{ .files = &.{"bench/loadgen/main.c"}, .flags = ctx.flags });
        ctx.linkOptional(loadgen_mod, &.{ bench_lib, core_lib, ot_lib });
        ctx.linkServerLibs(loadgen_mod);
        ctx.linkAsan(loadgen_mod);
        const exe = b.addExecutable(.{ .name = "ringpad-bench", .root_module = loadgen_mod });
        tools_step.dependOn(&b.addInstallArtifact(exe, .{}).step);
        loadgen_exe = exe;
    }

    // ---- tests ------------------------------------------------------------------
    const test_step = b.step("test", "Build and run every test suite");

    // The house rules (layers, cycles, sizes, style, references): tests/tidy/tidy.mjs,
    // after its own tests. Offline, under a second.
    const tidy_step = b.step("tidy", "Check the house rules (tests/tidy/tidy.mjs)");
    const tidy_tests = b.addSystemCommand(&.{ "node", "--test", "tests/tidy/tidy.test.mjs" });
    tidy_tests.setName("tidy: its own tests");
    tidy_tests.setCwd(b.path("."));
    tidy_tests.has_side_effects = true;
    const run_tidy = b.addSystemCommand(&.{ "node", "tests/tidy/tidy.mjs" });
    run_tidy.setName("tidy");
    run_tidy.setCwd(b.path("."));
    run_tidy.has_side_effects = true;
    run_tidy.stdio = .inherit;
    run_tidy.step.dependOn(&tidy_tests.step);
    tidy_step.dependOn(&run_tidy.step);
    test_step.dependOn(&run_tidy.step);

    const unit_mod = ctx.module();
    unit_mod.addCSourceFiles(.{ .files = cFilesUnder(b, "tests/unit", &.{}), .flags = ctx.flags });
    // Shared fixtures (store_fixture.h, tls_fixture.h, ot_gen.h) sit at tests/unit/.
    unit_mod.addIncludePath(b.path("tests/unit"));
    unit_mod.addIncludePath(b.path("bench/loadgen"));
    ctx.linkOptional(unit_mod, &.{ bench_lib, core_lib, ot_lib });
    unit_mod.linkSystemLibrary("criterion", .{ .use_pkg_config = .no });
    ctx.linkServerLibs(unit_mod);
    ctx.linkAsan(unit_mod);
    const unit_tests = b.addExecutable(.{ .name = "ringpad-tests", .root_module = unit_mod });
    tools_step.dependOn(&b.addInstallArtifact(unit_tests, .{}).step);
    // The test step leaves the tools in zig-out/bin too (some tests use ringpad-bench).
    test_step.dependOn(tools_step);

    // Criterion reports a test's result before its worker exits, so a leak that
    // LeakSanitizer finds at exit would not fail the test: under ASan the run
    // fails when any LeakSanitizer or AddressSanitizer report appears.
    const run_unit = if (sanitize == .address) blk: {
        const r = b.addSystemCommand(&.{ "sh", "-c",
            \\out=$(mktemp); "$0" --jobs 2 --short-filename >"$out" 2>&1; rc=$?; cat "$out"
            \\if grep -q "ERROR: \(Leak\|Address\)Sanitizer" "$out"; then echo "sanitizer reports above: failing" >&2; rc=1; fi
            \\rm -f "$out"; exit $rc
        });
        r.addArtifactArg(unit_tests);
        break :blk r;
    } else blk: {
        const r = b.addRunArtifact(unit_tests);
        r.addArgs(&.{ "--jobs", "2", "--short-filename" });
        break :blk r;
    };
    run_unit.setCwd(b.path("."));
    run_unit.has_side_effects = true;
    run_unit.stdio = .inherit;
    test_step.dependOn(&run_unit.step);

    var run_integration_step: ?*std.Build.Step = null;
    if (fileExists(b, "tests/integration/package-lock.json")) {
        // Integration tests: the real binary on an ephemeral loopback port, driven by
        // Node's `ws` (npm, pinned by tests/integration/package-lock.json).
        const npm_ci = b.addSystemCommand(&.{ "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error" });
        npm_ci.setCwd(b.path("tests/integration"));
        npm_ci.has_side_effects = true;
        // run.mjs exports the paths below and runs `node --test` over tests/integration/*.test.mjs.
        const run_integration = b.addSystemCommand(&.{ "node", "run.mjs" });
        run_integration.setCwd(b.path("tests/integration"));
        run_integration.addArtifactArg(server);
        run_integration.addDirectoryArg(web_root);
        run_integration.has_side_effects = true;
        run_integration.stdio = .inherit;
        // install.test.mjs runs `zig build install` with this build's options (its artifacts are cached).
        run_integration.setEnvironmentVariable("RINGPAD_BUILD_OPTIONS", b.fmt("-Doptimize={s} -Dsanitize={s}", .{ modeName(optimize), @tagName(sanitize) }));
        run_integration.step.dependOn(&npm_ci.step);
        run_integration.step.dependOn(&web_install.step);
        run_integration.step.dependOn(tools_step);
        if (faultalloc) |fa| run_integration.addPrefixedArtifactArg("--faultalloc=", fa);
        run_integration.step.dependOn(&run_unit.step); // one suite at a time: 2 cores
        test_step.dependOn(&run_integration.step);
        run_integration_step = &run_integration.step;
    }

    // The editor's JS tests (node's test runner); the browser tests among them
    // drive the ringpad built here, serving the installed editor. One suite at a
    // time (2 cores): after the unit and the integration tests.
    const run_web_tests = webTests(b, server, web_root, &web_install.step);
    run_web_tests.step.dependOn(&run_unit.step);
    if (run_integration_step) |s| run_web_tests.step.dependOn(s);
    test_step.dependOn(&run_web_tests.step);
    // The client SDKs (clients/js, clients/python) against the ringpad and the
    // load generator built here; last, after the editor's tests.
    if (loadgen_exe) |lg| {
        const run_sdk_tests = sdkTests(b, server, lg, web_root, &web_install.step);
        run_sdk_tests.step.dependOn(&run_web_tests.step);
        test_step.dependOn(&run_sdk_tests.step);
        b.step("sdk-test", "Run the client SDKs' suites (JS and Python: vectors, state machine, against ringpad)")
            .dependOn(&sdkTests(b, server, lg, web_root, &web_install.step).step);
    }
    // `zig build web-test`: the editor's tests alone.
    b.step("web-test", "Run the web editor's tests (JS units + browser tests against ringpad)")
        .dependOn(&webTests(b, server, web_root, &web_install.step).step);

    // ---- benchmarks (figures, not tests) -----------------------------------------
    const bench_mod = ctx.module();
    bench_mod.addCSourceFiles(.{ .files = &.{"bench/ot_bench.c"}, .flags = ctx.flags });
    ctx.linkOptional(bench_mod, &.{ot_lib});
    ctx.linkAsan(bench_mod);
    const ot_bench = b.addExecutable(.{ .name = "ringpad-ot-bench", .root_module = bench_mod });
    tools_step.dependOn(&b.addInstallArtifact(ot_bench, .{}).step);
    const bench_ot_step = b.step("bench-ot", "Run the OT micro-benchmark (add -Doptimize=ReleaseFast)");
    const run_bench = b.addRunArtifact(ot_bench);
    run_bench.addPassthruArgs();
    run_bench.stdio = .inherit;
    bench_ot_step.dependOn(&run_bench.step);

    // ---- fuzzing: libFuzzer through the system clang --------------------------------
    const fuzz_step = b.step("fuzz", "Build the libFuzzer targets and run each for -Dfuzz-seconds (default 20)");
    const fuzz_seconds = b.option(u32, "fuzz-seconds", "Seconds per fuzz target for `zig build fuzz`") orelse 20;
    const ot_sources = cFilesIn(b, "ot", &.{});
    for (cFilesIn(b, "tests/fuzz", &.{})) |fuzz_src| {
        const stem = std.fs.path.stem(fuzz_src);
        const cc = b.addSystemCommand(&.{ "clang", "-std=c17", "-g", "-O1", "-D_GNU_SOURCE", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined", "-Iinclude", "-Isrc", "-Iot" });
        cc.setCwd(b.path("."));
        cc.addFileArg(b.path(fuzz_src));
        for (ot_sources) |s| cc.addFileArg(b.path(s));
        // Fuzz targets name the server sources they need in a `// fuzz-sources:` line.
        for (fuzzExtraSources(b, fuzz_src)) |s| cc.addFileArg(b.path(s));
        cc.addArgs(&.{ "-luring", "-lwolfssl", "-lz", "-ljansson", "-lpthread", "-o" });
        const exe = cc.addOutputFileArg(stem);
        const install = b.addInstallFileWithDir(exe, .bin, b.fmt("fuzz-{s}", .{stem}));
        const corpus = b.fmt("tests/fuzz/corpus/{s}", .{stem});
        // New inputs go to a scratch folder (git-ignored); the committed seeds are read only.
        const run_fuzz = b.addSystemCommand(&.{ "sh", "-c", "mkdir -p \"$1\" && exec \"$0\" \"$@\"" });
        run_fuzz.setName(b.fmt("fuzz {s}", .{stem}));
        run_fuzz.setCwd(b.path("."));
        run_fuzz.addFileArg(exe);
        run_fuzz.addArg(b.fmt("fuzz-out/{s}", .{stem}));
        run_fuzz.addArgs(&.{ b.fmt("-max_total_time={d}", .{fuzz_seconds}), "-rss_limit_mb=2048", "-print_final_stats=1", b.fmt("-artifact_prefix=fuzz-out/{s}-", .{stem}) });
        run_fuzz.addArg(corpus);
        run_fuzz.has_side_effects = true;
        run_fuzz.stdio = .inherit;
        run_fuzz.step.dependOn(&install.step);
        fuzz_step.dependOn(&run_fuzz.step);
    }
}

const BuildInfo = struct {
    version: []const u8,
    /// A generated header defining RINGPAD_GIT_COMMIT and RINGPAD_LIBURING_VERSION.
    header: std.Build.LazyPath,
};

/// What `ringpad --version` reports that only the build knows. The commit
/// ("unknown" outside a git checkout, "-dirty" with uncommitted changes) and
/// the liburing the headers came from (liburing 2.3 has no version call) are
/// asked for on every build, not when the build script is configured (that
/// result is cached across commits); main.c recompiles only when they change.
fn buildInfo(b: *std.Build) BuildInfo {
    const gen = b.addSystemCommand(&.{ "sh", "-c",
        \\commit=$(git -C "$0" describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null) || commit=unknown
        \\uring=$(pkg-config --modversion liburing 2>/dev/null) || uring=unknown
        \\printf '#define RINGPAD_GIT_COMMIT "%s"\n#define RINGPAD_LIBURING_VERSION "%s"\n' "$commit" "$uring"
    });
    gen.setName("build info: git commit, liburing version");
    gen.addArg(b.root.joinString(b.allocator, ".") catch @panic("OOM"));
    gen.has_side_effects = true;
    return .{
        .version = "0.1.0", // build.zig.zon's .version
        .header = gen.captureStdOut(.{ .basename = "ringpad_build_info.h" }),
    };
}

fn modeName(mode: std.builtin.Optimize) []const u8 {
    return switch (mode) {
        .debug => "Debug",
        .safe => "ReleaseSafe",
        .fast => "ReleaseFast",
        .small => "ReleaseSmall",
    };
}

const ServerBuild = struct {
    ot_lib: ?*std.Build.Step.Compile,
    core_lib: ?*std.Build.Step.Compile,
    server: *std.Build.Step.Compile,
    main_flags: []const []const u8, // main.c's flags (with the build facts)
};

/// The OT engine, the server library and the `ringpad` binary in ctx's mode.
/// Only main.c gets the build facts, so a new commit recompiles one file.
fn serverBuild(ctx: Ctx, info: BuildInfo) ServerBuild {
    const b = ctx.b;
    const ot_lib = ctx.staticLib("ringpad_ot", cFilesIn(b, "ot", &.{}));
    const core_lib = ctx.staticLib("ringpad_core", cFilesUnder(b, "src", &.{"src/cmd/main.c"}));
    var main_flags: std.ArrayList([]const u8) = .empty;
    main_flags.appendSlice(b.allocator, ctx.flags) catch @panic("OOM");
    main_flags.appendSlice(b.allocator, &.{
        b.fmt("-DRINGPAD_VERSION=\"{s}\"", .{info.version}),
        "-DRINGPAD_BUILD_INFO_HEADER",
        b.fmt("-DRINGPAD_BUILD_MODE=\"{s}{s}\"", .{ modeName(ctx.optimize), if (ctx.sanitize == .address) "+ASan" else if (ctx.optimize == .debug) "+UBSan" else "" }),
    }) catch @panic("OOM");
    const server_mod = ctx.module();
    server_mod.addIncludePath(info.header.dirname());
    server_mod.addCSourceFiles(.{ .files = &.{"src/cmd/main.c"}, .flags = main_flags.items });
    ctx.linkOptional(server_mod, &.{ core_lib, ot_lib });
    ctx.linkServerLibs(server_mod);
    ctx.linkAsan(server_mod);
    return .{ .ot_lib = ot_lib, .core_lib = core_lib, .server = b.addExecutable(.{ .name = "ringpad", .root_module = server_mod }), .main_flags = main_flags.items };
}

/// Every `*.c` under `dir` (recursively), sorted, without the paths in `exclude`
/// (relative to the build root): a new file or sub-folder needs no edit here.
fn cFilesUnder(b: *std.Build, dir: []const u8, exclude: []const []const u8) []const []const u8 {
    var list: std.ArrayList([]const u8) = .empty;
    outer: for (filesUnder(b, dir, ".c")) |f| {
        for (exclude) |skip| if (std.mem.eql(u8, skip, f)) continue :outer;
        list.append(b.allocator, f) catch @panic("OOM");
    }
    return list.items;
}

/// `sub_path` (relative to the build root) as the root directory handle expects it.
fn rootSub(b: *std.Build, sub_path: []const u8) []const u8 {
    return (b.root.join(b.allocator, sub_path) catch @panic("OOM")).sub_path;
}

fn sortPaths(paths: [][]const u8) []const []const u8 {
    std.mem.sort([]const u8, paths, {}, struct {
        fn lessThan(_: void, x: []const u8, y: []const u8) bool {
            return std.mem.lessThan(u8, x, y);
        }
    }.lessThan);
    return paths;
}

fn fileExists(b: *std.Build, sub_path: []const u8) bool {
    // Re-configure when the entry appears or goes: watch the nearest folder that exists.
    var watch: []const u8 = std.fs.path.dirname(sub_path) orelse ".";
    while (!rootAccess(b, watch)) watch = std.fs.path.dirname(watch) orelse ".";
    b.dependOnDirectoryContents(b.path(watch));
    return rootAccess(b, sub_path);
}

fn rootAccess(b: *std.Build, sub_path: []const u8) bool {
    const io = b.graph.io;
    b.root.root_dir.handle.access(io, rootSub(b, sub_path), .{}) catch return false;
    return true;
}

/// Every file under `dir` (recursively) whose name ends with `suffix`, sorted;
/// the build is re-configured when files are added or removed.
fn filesUnder(b: *std.Build, dir: []const u8, suffix: []const u8) []const []const u8 {
    const io = b.graph.io;
    if (!fileExists(b, dir)) return &.{};
    b.dependOnDirectoryContents(b.path(dir));
    var list: std.ArrayList([]const u8) = .empty;
    var handle = b.root.root_dir.handle.openDir(io, rootSub(b, dir), .{ .iterate = true }) catch return &.{};
    defer handle.close(io);
    var walker = handle.walk(b.allocator) catch @panic("OOM");
    defer walker.deinit();
    while (walker.next(io) catch null) |entry| {
        // Not recursive by itself: watch every sub-folder too.
        if (entry.kind == .directory) b.dependOnDirectoryContents(b.path(b.fmt("{s}/{s}", .{ dir, entry.path })));
        if (entry.kind != .file or !std.mem.endsWith(u8, entry.basename, suffix)) continue;
        list.append(b.allocator, b.fmt("{s}/{s}", .{ dir, entry.path })) catch @panic("OOM");
    }
    return sortPaths(list.items);
}

/// A Run step's output is cached on its inputs: a folder argument hashes only
/// its path, so each file under `dir` is declared as an input.
fn addFileInputsUnder(b: *std.Build, run: *std.Build.Step.Run, dir: []const u8) void {
    for (filesUnder(b, dir, "")) |f| run.addFileInput(b.path(f));
}

/// Reads the `// fuzz-sources: src/a.c src/b.c` line of a fuzz target.
fn fuzzExtraSources(b: *std.Build, fuzz_src: []const u8) []const []const u8 {
    const io = b.graph.io;
    b.dependOnFileContents(b.path(fuzz_src));
    const text = b.root.root_dir.handle.readFileAlloc(io, rootSub(b, fuzz_src), b.allocator, .limited(1 << 20)) catch return &.{};
    var out: std.ArrayList([]const u8) = .empty;
    var lines = std.mem.splitScalar(u8, text, '\n');
    while (lines.next()) |line| {
        const marker = "// fuzz-sources:";
        if (!std.mem.startsWith(u8, line, marker)) continue;
        var words = std.mem.tokenizeAny(u8, line[marker.len..], " \t\r");
        while (words.next()) |w| out.append(b.allocator, w) catch @panic("OOM");
    }
    return out.items;
}

/// node clients/scripts/run-tests.mjs <ringpad> <ringpad-bench> <installed web root>: npm ci and
/// the Python venv (~/.cache/ringpad) when their lockfiles changed, then both SDKs' suites.
fn sdkTests(b: *std.Build, server: *std.Build.Step.Compile, loadgen: *std.Build.Step.Compile, web_root: std.Build.LazyPath, web_install: *std.Build.Step) *std.Build.Step.Run {
    const run = b.addSystemCommand(&.{"node"});
    run.setName("sdk-test");
    run.setCwd(b.path("."));
    run.addFileArg(b.path("clients/scripts/run-tests.mjs"));
    run.addArtifactArg(server);
    run.addArtifactArg(loadgen);
    run.addDirectoryArg(web_root);
    run.has_side_effects = true;
    run.stdio = .inherit;
    run.step.dependOn(web_install);
    return run;
}

/// node web/scripts/run-tests.mjs <ringpad> <installed web root> <web/test/*.test.mjs>
fn webTests(b: *std.Build, server: *std.Build.Step.Compile, web_root: std.Build.LazyPath, web_install: *std.Build.Step) *std.Build.Step.Run {
    const run = b.addSystemCommand(&.{"node"});
    run.setName("web-test");
    run.setCwd(b.path("web"));
    run.addFileArg(b.path("web/scripts/run-tests.mjs"));
    run.addArtifactArg(server);
    run.addDirectoryArg(web_root);
    for (filesUnder(b, "web/test", ".test.mjs")) |t| run.addArg(t["web/".len..]);
    run.has_side_effects = true;
    run.stdio = .inherit;
    run.step.dependOn(web_install);
    return run;
}
