# Five layer archives that try to write outside the directory they are unpacked in,
# written to /tmp/book4/work.
import io
import os
import tarfile


def archive(name, *entries):
    with tarfile.open(os.path.join("/tmp/book4/work", name), "w") as t:
        for name, kind, data, link in entries:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size, info.mode = kind, link, len(data), 0o644
            t.addfile(info, io.BytesIO(data) if data else None)


archive("dotdot.tar", ("../../../../tmp/book4/pwned", tarfile.REGTYPE, b"escaped\n", ""))
archive("absolute.tar", ("/tmp/book4/pwned", tarfile.REGTYPE, b"escaped\n", ""))
archive("symlink.tar", ("evil", tarfile.SYMTYPE, b"", "/tmp/book4"),
                       ("evil/pwned", tarfile.REGTYPE, b"escaped\n", ""))
archive("hardlink.tar", ("shadow", tarfile.LNKTYPE, b"", "/etc/shadow"))
archive("whiteout.tar", ("etc/.wh..", tarfile.REGTYPE, b"", ""))
