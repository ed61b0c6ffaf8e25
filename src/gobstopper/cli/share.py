"""``gobstopper run --share``: serve on every interface and show the LAN URL as text and as a QR code.

The QR code is drawn in the terminal by segno (a maintained, dependency-free QR encoder: ISO/IEC 18004), so a
phone on the same network can open the app by pointing its camera at the screen.
"""

from __future__ import annotations

import io
import socket


def lan_address() -> str:
    """This machine's address on its local network (the source address of its default route), else loopback.

    No packet is sent: connecting a UDP socket only asks the kernel which interface would be used.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1 (RFC 5737): routed like any outside address, never reached
            address = str(sock.getsockname()[0])
        except OSError:
            return "127.0.0.1"
    return address if address != "0.0.0.0" else "127.0.0.1"


def share_url(port: int, scheme: str = "http") -> str:
    """The URL other devices on the LAN use to reach a server bound to every interface on ``port``."""
    return f"{scheme}://{lan_address()}:{port}/"


def qr_text(url: str) -> str:
    """``url`` as a QR code drawn with Unicode half blocks (two modules per character), for a terminal.

    Raises:
        ImportError: segno is not installed (``pip install 'gobstopper[cli]'``).
    """
    import segno

    out = io.StringIO()
    segno.make(url, error="m", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue()


def banner(url: str) -> str:
    """What ``--share`` prints: the URL, then its QR code (or a hint to install segno)."""
    try:
        code = qr_text(url)
    except ImportError:
        code = "(install segno for a QR code: pip install 'gobstopper[cli]')\n"
    return f"\ngobstopper: sharing on your network at {url}\n\n{code}\n"
