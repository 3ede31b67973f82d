# The python tool's runner (docs/tools.md "Fork server"), embedded in rlc. Both ways of
# running a call go through run_as_main: main.py of the current directory runs as __main__
# under the file name "main.py" (relative, as Python < 3.9 named scripts), so a traceback
# reads `File "main.py", line 1` whatever directory the call got: a run's tool outputs, and
# so the run, do not depend on random directory names, nor on the mode.
#
# `python -I -c <this> --run` (tool_python_mode = exec): this process is the call; sandbox.c
# has set its limits and filter before exec.
#
# `python -I -c <this> <filter hex> <preload>` (fork, tools/pyfork.c): a server, started in
# the sandbox (namespaces, rlimits; its working directory the one writable place) with a
# stream socket as fd 3, the seccomp program as hex and the modules to import before serving
# (comma-separated; one that fails to import is skipped: the call that needs it gets the
# ImportError). Each request:
#   32 bytes "R <timeout_ms> <code_bytes>" (space padded) carrying one descriptor (the call's
#   output pipe), then the code.
# The server forks; the child takes the pipe as stdout and stderr, enters a fresh directory,
# sets its CPU limit, installs the filter and runs the code. The server answers 16 bytes:
# "E <code>", "S <signal>" or "T" (killed at the timeout). EOF on the socket, or a byte while
# a call runs: rlc is gone, so the server kills the call and exits. Python >= 3.9
# (socket.recv_fds). Only the server imports its modules (socket, ctypes, ...): a call run
# the exec way finds a fresh interpreter's.
import atexit, builtins, os, sys, traceback, types

HDR, ANS = 32, 16


def recv_exact(sock, n, first=b""):
    buf = bytearray(first)
    while len(buf) < n:
        more = sock.recv(n - len(buf))
        if not more:
            return None
        buf += more
    return bytes(buf)


def answer(sock, text):
    sock.sendall(text.encode().ljust(ANS))


def run_as_main(code):
    """Run code (bytes) as the script main.py would run; returns the exit status."""
    name = "main.py"
    sys.argv = [name]
    main_mod = types.ModuleType("__main__")
    main_mod.__file__ = name
    main_mod.__builtins__ = builtins
    sys.modules["__main__"] = main_mod
    rc = 0
    try:
        exec(compile(code, name, "exec"), main_mod.__dict__)
    except SystemExit as e:
        rc = exit_code(e)
    except BaseException as e:
        traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        rc = 1
    # as the interpreter's own exit would: wait for threads, run atexit, flush
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
        atexit._run_exitfuncs()
    except SystemExit as e:
        rc = exit_code(e)
    except BaseException:
        pass
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:
            pass
    return rc


def child(code, fd, path, timeout_ms, libc, prog):
    import ctypes, resource, signal

    try:
        os.setpgid(0, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.closerange(3, 64)
        os.chdir(path)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        cpu = timeout_ms // 1000 + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.addressof(prog), 0, 0):
            os._exit(125)
    except BaseException:
        os._exit(125)
    os._exit(run_as_main(code))


def exit_code(e):
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    print(e.code, file=sys.stderr)
    return 1


def wait_child(sock, pid, timeout_ms):
    """'E n' / 'S n' / 'T'; None when rlc is gone (the call killed)."""
    import select, signal, time

    deadline = time.monotonic() + timeout_ms / 1000.0
    try:
        pfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pfd = None
    status, verdict = None, ""
    while status is None:
        left = deadline - time.monotonic()
        if left <= 0:
            verdict = "T"
            break
        watch = [sock] if pfd is None else [sock, pfd]
        ready = select.select(watch, [], [], left if pfd is not None else min(left, 0.002))[0]
        if sock in ready:
            verdict = None
            break
        if pfd is None or pfd in ready:
            got, st = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                status = st
    if status is None:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
        status = os.waitpid(pid, 0)[1]
    if pfd is not None:
        os.close(pfd)
    if verdict is None or verdict == "T":
        return verdict
    if os.WIFSIGNALED(status):
        return "S %d" % os.WTERMSIG(status)
    return "E %d" % os.WEXITSTATUS(status)


def serve():
    import ctypes, importlib, resource, select, shutil, signal, socket, time  # noqa: F401 (the children's, loaded once)

    sock = socket.socket(fileno=3)
    flt = bytes.fromhex(sys.argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fbuf = ctypes.create_string_buffer(flt, len(flt))
    prog = Prog(len(flt) // 8, ctypes.addressof(fbuf))
    for name in filter(None, (m.strip() for m in sys.argv[2].split(","))):
        try:
            importlib.import_module(name)
        except Exception:
            pass
    root = os.getcwd()
    null = os.open(os.devnull, os.O_RDWR)
    answer(sock, "ready")
    os.dup2(null, 1)
    os.dup2(null, 2)
    seq = 0
    while True:
        first, fds, _, _ = socket.recv_fds(sock, HDR, 1)
        hdr = recv_exact(sock, HDR, first) if first else None
        if hdr is None or len(fds) != 1 or not hdr.startswith(b"R "):
            return
        timeout_ms, n = (int(x) for x in hdr[2:].split())
        code = recv_exact(sock, n)
        if code is None:
            return
        seq += 1
        path = os.path.join(root, "c%d" % seq)
        os.mkdir(path, 0o700)
        with open(os.path.join(path, "main.py"), "wb") as f:
            f.write(code)
        pid = os.fork()
        if pid == 0:
            child(code, fds[0], path, timeout_ms, libc, prog)
        os.close(fds[0])
        verdict = wait_child(sock, pid, timeout_ms)
        for e in os.scandir(root):  # whatever the call wrote, here or beside its directory
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path, ignore_errors=True)
            else:
                os.unlink(e.path)
        if verdict is None:
            return
        answer(sock, verdict)


if sys.argv[1] == "--run":
    with open("main.py", "rb") as f:
        source = f.read()
    os._exit(run_as_main(source))
serve()
