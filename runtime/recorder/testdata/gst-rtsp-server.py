"""An RTSP server that vigil did not write, for the recorder's conformance
tests: GStreamer's gst-rtsp-server (the stack inside many IP cameras).

Mounts, 25 fps live test patterns with a 1 s GOP:
  /h264        H.264 + AAC, one pipeline per client
  /h265        H.265, one pipeline per client
  /shared      H.264, one pipeline shared by every client

It prints "ready PORT" once serving (on a free port of 127.0.0.1), then reads
commands on stdin, one per line:
  frames MOUNT  prints "frames MOUNT N": video frames encoded for MOUNT so far
It exits when stdin closes. Without GStreamer's Python bindings it prints
"skip REASON" and exits with status 3.
"""

import sys
import threading

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer
except (ImportError, ValueError) as e:
    print("skip GStreamer's RTSP server bindings (python3-gi, gir1.2-gst-rtsp-server-1.0) are missing: %s" % e, flush=True)
    sys.exit(3)

VIDEO = "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 ! "
H264 = VIDEO + "x264enc name=enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=300 ! rtph264pay name=pay0 pt=96"
H265 = VIDEO + "x265enc name=enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=300 ! rtph265pay name=pay0 pt=96"
AAC = " audiotestsrc is-live=true ! audioconvert ! avenc_aac ! rtpmp4gpay name=pay1 pt=97"

MOUNTS = {
    "/h264": (H264 + AAC, False),
    "/h265": (H265, False),
    "/shared": (H264, True),
}

frames = {m: 0 for m in MOUNTS}
lock = threading.Lock()


def count(mount):
    def probe(pad, info):
        with lock:
            frames[mount] += 1
        return Gst.PadProbeReturn.OK

    return probe


def configured(mount):
    def on_configure(factory, media):
        enc = media.get_element().get_by_name("enc")
        enc.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, count(mount))

    return on_configure


def commands(loop):
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "frames":
            with lock:
                n = frames.get(words[1], -1)
            print("frames %s %d" % (words[1], n), flush=True)
    loop.quit()


def main():
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service("0")
    for mount, (launch, shared) in MOUNTS.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch("( " + launch + " )")
        factory.set_shared(shared)
        factory.connect("media-configure", configured(mount))
        server.get_mount_points().add_factory(mount, factory)
    server.attach(None)
    print("ready %d" % server.get_bound_port(), flush=True)
    loop = GLib.MainLoop()
    threading.Thread(target=commands, args=(loop,), daemon=True).start()
    loop.run()


main()
