# syntax=docker/dockerfile:1
# taskbot: a static binary on an empty base image, running as a non-root user, with its
# state file on the /data volume.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/taskbot . \
 && /out/taskbot version
# The runtime image has no shell: prepare the user, group, the volume's directory and a /tmp
# (mode 1777, like any /tmp: `taskbot demo` and os.TempDir need one) here.
RUN mkdir -p /rootfs/etc /rootfs/data /tmproot/tmp \
 && echo 'taskbot:x:10001:10001:taskbot:/data:/sbin/nologin' > /rootfs/etc/passwd \
 && echo 'taskbot:x:10001:' > /rootfs/etc/group \
 && chown 10001:10001 /rootfs/data && chmod 0700 /rootfs/data \
 && chmod 1777 /tmproot/tmp

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /rootfs/etc/passwd /rootfs/etc/group /etc/
COPY --from=build --chown=10001:10001 /rootfs/data /data
# /tmp as an entry of a copied tree keeps its mode, 1777; `COPY --from=build /some/dir /tmp`
# would copy only the contents and create /tmp 0755, not writable for the taskbot user.
COPY --from=build /tmproot/ /
COPY --from=build /out/taskbot /usr/local/bin/taskbot
USER 10001:10001
ENV TASKBOT_DB_PATH=/data/taskbot.db \
    TASKBOT_LISTEN_ADDR=:8080 \
    TMPDIR=/tmp
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/taskbot", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/taskbot"]
CMD ["serve"]
