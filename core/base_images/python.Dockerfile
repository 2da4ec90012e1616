# A local stand-in for python:3.X-slim, built on a Debian root file system made with debootstrap when no
# registry can be reached. Same promises as the official image: python/python3, pip (installing into the
# system interpreter), venv, git, CA certificates, UTF-8 locale; and a static busybox, the program cligym's verifier
# reads harness files with (copied from the image, it is the one binary an agent cannot have changed).
ARG ROOTFS
FROM ${ROOTFS}
ENV LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 python3-pip python3-venv python3-dev python-is-python3 git ca-certificates busybox-static \
 && rm -rf /var/lib/apt/lists/* \
 # pip must install into the system interpreter, as in the official python images (no PEP 668 guard).
 && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \
 && ln -sf /usr/bin/pip3 /usr/local/bin/pip \
 && python --version && pip --version && git --version
CMD ["python3"]
