//! Getting images into the store, and layers out of a container.
//!
//! Three formats come in:
//! - a `docker save` tarball: `manifest.json` lists each image's layer archives, bottom first;
//! - an OCI image layout (a directory, or a tarball of one): `index.json` points to manifests,
//!   which point to layer blobs by sha256 digest (possibly gzip-compressed);
//! - a plain root filesystem tarball (`docker export`): one layer.
//!
//! One goes out: `commit` turns a container's upper directory back into an OCI layer archive,
//! whiteouts included.

use std::fs;
use std::io::{BufReader, Read, Seek};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use engine::{Context, Error, Result, narrate};
use serde::Deserialize;

use crate::extract::{OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX, get_xattr};
use crate::store::{Image, Store, sha256_hex};

/// Open a layer archive, gzip-compressed or not (the first two bytes tell).
pub fn open_layer(path: &Path) -> Result<Box<dyn Read>> {
    let mut file = fs::File::open(path).ctx("open", path.display())?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).ctx("read", path.display())?;
    file.rewind().ctx("seek", path.display())?;
    let reader = BufReader::new(file);
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    })
}

/// Import a file or directory; `name` names a plain rootfs tarball (and overrides others' tags).
/// Returns the images made, with the references they were tagged with.
pub fn import(store: &Store, path: &Path, name: Option<&str>) -> Result<Vec<(String, Image)>> {
    let meta = fs::metadata(path)
        .map_err(|_| Error::usage(format!("import: {} does not exist", path.display())))?;
    if meta.is_dir() {
        return import_oci_layout(store, path, name);
    }
    let top_level = top_level_names(path)?;
    if top_level
        .iter()
        .any(|n| n == "manifest.json" || n == "index.json")
    {
        // An archive of several files: unpack it (with the same care as a layer), then read it.
        let unpacked =
            path.with_file_name(format!(".carton-import-{}", engine::container::new_id()));
        let scratch = std::env::temp_dir().join(unpacked.file_name().unwrap_or_default());
        fs::create_dir_all(&scratch).ctx("mkdir", scratch.display())?;
        let result = crate::extract::extract_layer(open_layer(path)?, &scratch).and_then(|_| {
            if scratch.join("manifest.json").is_file() {
                import_docker_save(store, &scratch, name)
            } else {
                import_oci_layout(store, &scratch, name)
            }
        });
        let _ = fs::remove_dir_all(&scratch);
        return result;
    }
    let name = name.ok_or_else(|| {
        Error::usage(format!(
            "import: {} is a root filesystem tarball: give the image a name, e.g. `import {} myimage:1.0`",
            path.display(),
            path.display()
        ))
    })?;
    narrate::step(
        "images",
        "import a root filesystem tarball as one layer",
        format!("{}", path.display()),
    );
    let layer = store.add_layer(open_layer(path)?)?;
    let image = store.add_image(vec![layer], &format!("import of {}", path.display()))?;
    store.tag(&image, name)?;
    Ok(vec![(crate::store::normalize_reference(name)?, image)])
}

/// The names at the top of a tar archive, read without unpacking it.
fn top_level_names(path: &Path) -> Result<Vec<String>> {
    let mut archive = tar::Archive::new(open_layer(path)?);
    let mut names = Vec::new();
    let entries = archive.entries().map_err(|e| {
        Error::usage(format!(
            "import: {} is not a tar archive: {}",
            path.display(),
            brief(&e)
        ))
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| {
            Error::usage(format!(
                "import: {} is not a tar archive (or a gzip of one): {}",
                path.display(),
                brief(&e)
            ))
        })?;
        if let Ok(name) = entry.path() {
            let name = name.to_string_lossy().trim_start_matches("./").to_string();
            if !name.contains('/') {
                names.push(name);
            }
        }
    }
    Ok(names)
}

#[derive(Deserialize)]
struct SaveManifest {
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

fn import_docker_save(
    store: &Store,
    dir: &Path,
    name: Option<&str>,
) -> Result<Vec<(String, Image)>> {
    let manifests: Vec<SaveManifest> = read_json(&dir.join("manifest.json"))?;
    let mut imported = Vec::new();
    for manifest in manifests {
        let mut layers = Vec::new();
        for layer in &manifest.layers {
            let path = inside(dir, layer)?;
            narrate::step("images", "import a layer of a docker save archive", layer);
            layers.push(store.add_layer(open_layer(&path)?)?);
        }
        let image = store.add_image(layers, "import of a docker save archive")?;
        let references = match name {
            Some(name) => vec![name.to_string()],
            None => manifest.repo_tags.unwrap_or_default(),
        };
        for reference in references {
            store.tag(&image, &reference)?;
            imported.push((
                crate::store::normalize_reference(&reference)?,
                image.clone(),
            ));
        }
        if imported.iter().all(|(_, i)| i.id != image.id) {
            imported.push((image.id[..12].to_string(), image));
        }
    }
    Ok(imported)
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: std::collections::HashMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    layers: Vec<Descriptor>,
}

fn import_oci_layout(
    store: &Store,
    dir: &Path,
    name: Option<&str>,
) -> Result<Vec<(String, Image)>> {
    if !dir.join("index.json").is_file() {
        return Err(Error::usage(format!(
            "import: {} has no index.json: not an OCI image layout",
            dir.display()
        )));
    }
    let index: Index = read_json(&dir.join("index.json"))?;
    let mut imported = Vec::new();
    for descriptor in &index.manifests {
        let manifest = resolve_manifest(dir, descriptor)?;
        let mut layers = Vec::new();
        for layer in &manifest.layers {
            let blob = blob_path(dir, &layer.digest)?;
            narrate::step(
                "images",
                "import a layer blob of an OCI layout",
                layer.digest.clone(),
            );
            verify_digest(&blob, &layer.digest)?;
            layers.push(store.add_layer(open_layer(&blob)?)?);
        }
        let image = store.add_image(layers, "import of an OCI image layout")?;
        let reference = name.map(str::to_string).or_else(|| {
            descriptor
                .annotations
                .get("org.opencontainers.image.ref.name")
                .map(|tag| {
                    if tag.contains(':') || tag.contains('/') {
                        tag.clone()
                    } else {
                        format!("{}:{tag}", dir_name(dir))
                    }
                })
        });
        match reference {
            Some(reference) => {
                store.tag(&image, &reference)?;
                imported.push((crate::store::normalize_reference(&reference)?, image));
            }
            None => imported.push((image.id[..12].to_string(), image)),
        }
    }
    Ok(imported)
}

/// An index may point to another index (one manifest per platform): take linux/amd64.
fn resolve_manifest(dir: &Path, descriptor: &Descriptor) -> Result<Manifest> {
    let path = blob_path(dir, &descriptor.digest)?;
    verify_digest(&path, &descriptor.digest)?;
    if descriptor.media_type.contains("index") || descriptor.media_type.contains("manifest.list") {
        let nested: Index = read_json(&path)?;
        let chosen = nested
            .manifests
            .iter()
            .find(|m| {
                m.platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
            })
            .or(nested.manifests.first())
            .ok_or_else(|| Error::usage("import: an image index with no manifest"))?;
        return resolve_manifest(dir, chosen);
    }
    read_json(&path)
}

/// `sha256:HEX` -> DIR/blobs/sha256/HEX, refusing digests that are not plain hex.
fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| Error::usage(format!("import: bad digest {digest:?}")))?;
    if algorithm != "sha256" || hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::usage(format!(
            "import: unsupported digest {digest:?}"
        )));
    }
    Ok(dir.join("blobs/sha256").join(hex))
}

/// Content addressing is only worth something if the content is checked against its address.
fn verify_digest(path: &Path, digest: &str) -> Result<()> {
    let bytes = fs::read(path)
        .map_err(|_| Error::usage(format!("import: the blob {digest} is missing")))?;
    let actual = format!("sha256:{}", sha256_hex(&bytes));
    if actual != digest {
        return Err(Error::usage(format!(
            "import: the blob {digest} is damaged (its content hashes to {actual})"
        )));
    }
    Ok(())
}

/// The first line of a tar error, which may otherwise quote a whole header's raw bytes.
fn brief(error: &std::io::Error) -> String {
    let text = error.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(80).collect()
}

/// A path named by an archive's manifest, which must stay inside the unpacked archive.
fn inside(dir: &Path, relative: &str) -> Result<PathBuf> {
    let clean = crate::extract::clean_relative(Path::new(relative))?;
    Ok(dir.join(clean))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).ctx("read", path.display())?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::usage(format!("import: {}: {e}", path.display())))
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_else(|| "imported".into())
}

/// Find an image by reference; `busybox` (the built-in image) is made on first use.
pub fn find_image(store: &Store, state_root: &Path, reference: &str) -> Result<Image> {
    match reference {
        "busybox" | "busybox:latest" => busybox_image(store, state_root),
        _ => store.resolve(reference),
    }
}

/// The built-in `busybox` image: the workshop's busybox rootfs, packed as one layer.
pub fn busybox_image(store: &Store, state_root: &Path) -> Result<Image> {
    if let Ok(image) = store.resolve("busybox:latest") {
        return Ok(image);
    }
    let rootfs = engine::rootfs::busybox_rootfs(state_root)?;
    narrate::step(
        "images",
        "make the built-in busybox image",
        format!("tar of {}", rootfs.display()),
    );
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder
        .append_dir_all(".", &rootfs)
        .ctx("tar", rootfs.display())?;
    let archive = builder.into_inner().ctx("tar", rootfs.display())?;
    let layer = store.add_layer(&archive[..])?;
    let image = store.add_image(
        vec![layer],
        "built-in busybox (from the host's busybox-static)",
    )?;
    store.tag(&image, "busybox:latest")?;
    Ok(image)
}

// ANCHOR: upper_to_layer
/// The container's upper directory as an OCI layer archive: overlay whiteouts (0/0 devices)
/// become `.wh.NAME` files again, and opaque directories get a `.wh..wh..opq` entry.
pub fn upper_to_layer(upper: &Path) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    append_tree(&mut builder, upper, Path::new(""))?;
    builder.into_inner().ctx("tar", upper.display())
}
// ANCHOR_END: upper_to_layer

fn append_tree(builder: &mut tar::Builder<Vec<u8>>, root: &Path, relative: &Path) -> Result<()> {
    let dir = root.join(relative);
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .ctx("read", dir.display())?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = relative.join(entry.file_name());
        let meta = fs::symlink_metadata(&path).ctx("stat", path.display())?;
        let kind = meta.file_type();
        if kind.is_char_device() && meta.rdev() == 0 {
            let marker = relative.join(format!(
                "{WHITEOUT_PREFIX}{}",
                entry.file_name().to_string_lossy()
            ));
            builder
                .append_data(&mut empty_file_header(&meta), &marker, std::io::empty())
                .ctx("tar", marker.display())?;
            continue;
        }
        let mut header = tar::Header::new_gnu();
        header.set_metadata(&meta);
        if kind.is_dir() {
            builder
                .append_data(&mut header, &name, std::io::empty())
                .ctx("tar", name.display())?;
            if get_xattr(&path, OPAQUE_XATTR).as_deref() == Some(b"y") {
                let marker = name.join(OPAQUE_MARKER);
                builder
                    .append_data(&mut empty_file_header(&meta), &marker, std::io::empty())
                    .ctx("tar", marker.display())?;
            }
            append_tree(builder, root, &name)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&path).ctx("readlink", path.display())?;
            builder
                .append_link(&mut header, &name, &target)
                .ctx("tar", name.display())?;
        } else if kind.is_file() {
            let file = fs::File::open(&path).ctx("open", path.display())?;
            builder
                .append_data(&mut header, &name, file)
                .ctx("tar", name.display())?;
        }
    }
    Ok(())
}

fn empty_file_header(meta: &fs::Metadata) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(0);
    header.set_mode(0o644);
    header.set_mtime(meta.mtime().max(0) as u64);
    header
}
