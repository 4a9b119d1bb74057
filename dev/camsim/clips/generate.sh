#!/bin/sh
# Regenerates the synthetic clips that vigil camsim loops. Run once from this
# directory; the outputs are committed and embedded into the binary.
#
# Every clip is an Annex-B elementary stream at 25 fps without B-frames
# (so DTS = PTS), a length that is a whole number of GOPs (so each loop starts
# on an IDR frame), and parameter sets repeated before every IDR frame, as IP
# cameras do. The AAC track is ADTS, 48 kHz mono.
set -eu
cd "$(dirname "$0")"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }

# small: 320x240, 2 s, 1 s GOP, ~250 kbit/s; for unit tests.
ff -f lavfi -i testsrc2=size=320x240:rate=25 -t 2 -pix_fmt yuv420p \
	-c:v libx264 -preset medium -profile:v main -bf 0 -g 25 -keyint_min 25 -sc_threshold 0 \
	-b:v 250k -maxrate 250k -bufsize 250k -x264-params repeat-headers=1:sliced-threads=0 \
	-f h264 small.h264
ff -f lavfi -i testsrc2=size=320x240:rate=25 -t 2 -pix_fmt yuv420p \
	-c:v libx265 -preset medium -b:v 250k \
	-x265-params log-level=error:bframes=0:keyint=25:min-keyint=25:scenecut=0:open-gop=0:repeat-headers=1 \
	-f hevc small.h265

# 1080p: 1920x1080, 4 s, 2 s GOP, ~3 Mbit/s; the load of a typical IP camera.
ff -f lavfi -i testsrc2=size=1920x1080:rate=25 -t 4 -pix_fmt yuv420p \
	-c:v libx264 -preset medium -profile:v high -bf 0 -g 50 -keyint_min 50 -sc_threshold 0 \
	-b:v 3M -maxrate 3M -bufsize 3M -x264-params repeat-headers=1:sliced-threads=0 \
	-f h264 1080p.h264
# 1080p-gop1: the same with a 1 s GOP, the key frame interval VMS vendors advise.
ff -f lavfi -i testsrc2=size=1920x1080:rate=25 -t 4 -pix_fmt yuv420p \
	-c:v libx264 -preset medium -profile:v high -bf 0 -g 25 -keyint_min 25 -sc_threshold 0 \
	-b:v 3M -maxrate 3M -bufsize 3M -x264-params repeat-headers=1:sliced-threads=0 \
	-f h264 1080p-gop1.h264
ff -f lavfi -i testsrc2=size=1920x1080:rate=25 -t 4 -pix_fmt yuv420p \
	-c:v libx265 -preset fast -b:v 2M \
	-x265-params log-level=error:bframes=0:keyint=50:min-keyint=50:scenecut=0:open-gop=0:repeat-headers=1:vbv-maxrate=2000:vbv-bufsize=2000 \
	-f hevc 1080p.h265

# audio: 2 s of a 1 kHz tone, AAC-LC 48 kHz mono, 64 kbit/s.
ff -f lavfi -i sine=frequency=1000:sample_rate=48000 -t 2 -ac 1 \
	-c:a aac -b:a 64k -f adts audio.aac
