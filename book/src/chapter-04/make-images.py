# The example images of chapter 4, made with Python's tarfile module:
#   /tmp/book4/work/app.tar   busybox, then three layers: add, delete one file, replace a directory
#   /tmp/book4/work/tall.tar  busybox, then 127 layers that add one file each
# Both are in the `docker save` format: a manifest.json and one tar archive per layer.
import hashlib
import io
import json
import tarfile


def layer(files):
    """A layer archive from (name, content) pairs; a content of None makes a directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if content is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            else:
                info.size = len(content)
                info.mode = 0o644
                t.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def busybox():
    """The workshop's busybox tree as a layer, so that the images have a shell."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        t.add("/tmp/book4/rootfs/busybox", arcname=".")
    return buf.getvalue()


def docker_save(path, tag, layers):
    with tarfile.open(path, "w") as out:
        names = []
        for data in layers:
            name = f"{hashlib.sha256(data).hexdigest()}/layer.tar"
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            out.addfile(info, io.BytesIO(data))
            names.append(name)
        manifest = json.dumps([{"Config": "config.json", "RepoTags": [tag], "Layers": names}])
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        out.addfile(info, io.BytesIO(manifest.encode()))


docker_save("/tmp/book4/work/app.tar", "app:3", [
    busybox(),
    layer([("app", None), ("app/config", b"debug=1\n"), ("app/cache", None),
           ("app/cache/a", b"a\n"), ("app/cache/b", b"b\n")]),
    layer([("app", None), ("app/.wh.config", b"")]),
    layer([("app", None), ("app/cache", None), ("app/cache/.wh..wh..opq", b""),
           ("app/cache/fresh", b"fresh\n")]),
])

docker_save("/tmp/book4/work/tall.tar", "tall:128", [busybox()] + [
    layer([("layers", None), (f"layers/{i:03}", f"{i}\n".encode())]) for i in range(2, 129)
])
