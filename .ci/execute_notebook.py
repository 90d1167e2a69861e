"""Executes a notebook in a Jupyter kernel and writes it back with its outputs.

Usage: execute_notebook.py NOTEBOOK OUTPUT [--kernel deno] [--timeout 600]

Why not `jupyter nbconvert --execute`: nbclient stops listening for a cell's outputs at the
cell's `status: idle` message, and the Deno kernel (2.x) sometimes publishes a cell's
`execute_result` just after that idle (its results go out from the JavaScript thread, the
status from the kernel's server thread), so nbconvert drops an output now and then (about one
run in three for examples/quickstart.ipynb). The Jupyter protocol ties each IOPub message to
its request by `parent_header.msg_id`, so this runner keeps every IOPub message, routes it to
its cell by that id whenever it arrives, and after the last cell waits until the kernel has
been quiet for a while before it shuts the kernel down.

Exit status: 0 done; 1 a cell raised, the kernel died or a cell timed out (the notebook's
fault); 4 the kernel's messages could not be read (an IOPub message failed its HMAC signature
check: the kernel's transport, not the notebook; the caller may run it again).
"""

import argparse
import queue
import sys
import time

import nbformat
from jupyter_client.manager import KernelManager

TRANSPORT_ERROR = 4
QUIET_SECONDS = 3.0
OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error"}


class TransportError(Exception):
    """A message from the kernel could not be deserialized (bad signature, broken frames)."""


def next_message(get_msg, timeout):
    """The next message from `get_msg` (a blocking client's getter), None after `timeout` s;
    TransportError on a message that cannot be read."""
    try:
        return get_msg(timeout=timeout)
    except queue.Empty:
        return None
    except ValueError as err:  # jupyter_client: "Invalid Signature: ..."
        raise TransportError(str(err)) from err


def merge_streams(outputs):
    """Joins consecutive stream outputs of the same name (stdout/stderr), as nbconvert does."""
    merged = []
    for out in outputs:
        if (merged and out.output_type == "stream" and merged[-1].output_type == "stream"
                and merged[-1].name == out.name):
            merged[-1].text += out.text
        else:
            merged.append(out)
    return merged


def run(notebook_path, output_path, kernel_name, timeout):
    nb = nbformat.read(notebook_path, as_version=4)
    folder = notebook_path.rsplit("/", 1)[0] if "/" in notebook_path else "."
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel(cwd=folder)
    kc = km.client()
    kc.start_channels()
    by_parent = {}  # request msg_id -> IOPub messages answering it, in arrival order
    cell_ids = {}  # cell index -> request msg_id
    status = 0
    try:
        kc.wait_for_ready(timeout=120)

        def pump_iopub(wait):
            msg = next_message(kc.get_iopub_msg, wait)
            if msg is not None:
                parent = msg.get("parent_header", {}).get("msg_id")
                by_parent.setdefault(parent, []).append(msg)
            return msg

        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            msg_id = kc.execute(cell.source, store_history=True, allow_stdin=False)
            cell_ids[index] = msg_id
            deadline = time.monotonic() + timeout
            reply = None
            idle = False
            while reply is None or not idle:
                if time.monotonic() > deadline:
                    print(f"cell {index}: no reply within {timeout} s", file=sys.stderr)
                    return 1
                if not km.is_alive():
                    print(f"cell {index}: the kernel died", file=sys.stderr)
                    return 1
                if reply is None:
                    shell = next_message(kc.get_shell_msg, 0.05)
                    if shell is not None and shell["parent_header"].get("msg_id") == msg_id:
                        reply = shell
                msg = pump_iopub(0.05)
                while msg is not None:
                    if (msg["parent_header"].get("msg_id") == msg_id
                            and msg["msg_type"] == "status"
                            and msg["content"].get("execution_state") == "idle"):
                        idle = True
                    msg = pump_iopub(0)
            cell.execution_count = reply["content"].get("execution_count")
            if reply["content"].get("status") != "ok":
                status = 1
                break
        # Late messages: whatever the kernel still publishes, until it has been quiet a while.
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < QUIET_SECONDS:
            if pump_iopub(0.2) is not None:
                quiet_since = time.monotonic()
    except TransportError as err:
        print(f"kernel transport error: {err}", file=sys.stderr)
        return TRANSPORT_ERROR
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    for index, msg_id in cell_ids.items():
        outputs = [nbformat.v4.output_from_msg(m) for m in by_parent.get(msg_id, [])
                   if m["msg_type"] in OUTPUT_TYPES]
        nb.cells[index].outputs = merge_streams(outputs)
        for out in nb.cells[index].outputs:
            if out.output_type == "error":
                print(f"cell {index} raised {out.ename}: {out.evalue}", file=sys.stderr)
                print("\n".join(out.traceback), file=sys.stderr)
    nbformat.write(nb, output_path)
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebook")
    parser.add_argument("output")
    parser.add_argument("--kernel", default="deno")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    sys.exit(run(args.notebook, args.output, args.kernel, args.timeout))


if __name__ == "__main__":
    main()
