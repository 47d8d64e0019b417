use chrono::NaiveDate;
use image::{Rgb, RgbImage, Rgba, RgbaImage};
use vidpipe_domain::timelapse::FrameTime;

use super::compose::{common_size, even, over, Composer};
use super::ftp::{redact, FtpSource, Tls};
use super::y4m::{planes_len, rgb_to_yuv420, stream_len, Y4mWriter};
use super::*;

fn noon() -> FrameTime {
    NaiveDate::from_ymd_opt(2024, 2, 26)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
}

#[test]
fn y4m_frames_are_4_2_0_planes_in_bt601_limited_range() {
    let grey = RgbImage::from_pixel(4, 2, Rgb([128, 128, 128]));
    let mut planes = Vec::new();
    rgb_to_yuv420(&grey, &mut planes);
    assert_eq!(planes.len(), 4 * 2 + 2 * 2);
    assert!(planes[..8].iter().all(|&y| y == 126), "{planes:?}");
    assert!(planes[8..].iter().all(|&c| c == 128), "{planes:?}");
    // Black and white are 16 and 235, and pure red has V far above neutral.
    let mut bw = RgbImage::new(2, 2);
    bw.put_pixel(1, 0, Rgb([255, 255, 255]));
    rgb_to_yuv420(&bw, &mut planes);
    assert_eq!(&planes[..4], &[16, 235, 16, 16]);
    rgb_to_yuv420(&RgbImage::from_pixel(2, 2, Rgb([255, 0, 0])), &mut planes);
    assert_eq!((planes[4], planes[5]), (90, 240));

    let mut out = Vec::new();
    let mut w = Y4mWriter::new(&mut out, 4, 2, 30).unwrap();
    rgb_to_yuv420(&grey, &mut planes);
    w.write_planes(&planes).unwrap();
    w.write_planes(&planes).unwrap();
    assert!(w.write_planes(&planes[1..]).is_err(), "a short frame");
    assert_eq!(w.frames(), 2);
    w.finish().unwrap();
    let header = b"YUV4MPEG2 W4 H2 F30:1 Ip A1:1 C420jpeg XCOLORRANGE=LIMITED\n";
    assert!(out.starts_with(header));
    assert_eq!(out.len() as u64, stream_len(4, 2, 30, 2));
    assert_eq!(&out[header.len()..header.len() + 6], b"FRAME\n");
    assert_eq!(planes_len(4096, 2048), 4096 * 2048 * 3 / 2);
    assert!(Y4mWriter::new(Vec::new(), 5, 2, 30).is_err(), "odd width");
}

#[test]
fn over_composites_by_alpha() {
    let mut dst = RgbImage::from_pixel(3, 1, Rgb([0, 0, 200]));
    let mut src = RgbaImage::new(3, 1);
    src.put_pixel(0, 0, Rgba([255, 0, 0, 0]));
    src.put_pixel(1, 0, Rgba([255, 0, 0, 255]));
    src.put_pixel(2, 0, Rgba([255, 0, 0, 128]));
    over(&mut dst, &src, 0, 0);
    assert_eq!(dst.get_pixel(0, 0), &Rgb([0, 0, 200]));
    assert_eq!(dst.get_pixel(1, 0), &Rgb([255, 0, 0]));
    assert_eq!(dst.get_pixel(2, 0), &Rgb([128, 0, 100]));
    // Clipped at the edges, not a panic.
    over(
        &mut dst,
        &RgbaImage::from_pixel(5, 5, Rgba([1, 2, 3, 255])),
        2,
        0,
    );
    assert_eq!(dst.get_pixel(2, 0), &Rgb([1, 2, 3]));
}

fn save(dir: &Path, name: &str, image: &RgbaImage) -> PathBuf {
    let path = dir.join(name);
    image.save(&path).unwrap();
    path
}

#[test]
fn frames_show_the_basemap_where_they_are_transparent() {
    let dir = tempfile::tempdir().unwrap();
    let basemap = RgbaImage::from_pixel(4, 2, Rgba([0, 0, 200, 255]));
    let basemap = save(dir.path(), "base.png", &basemap);
    let mut frame = RgbaImage::from_pixel(8, 4, Rgba([250, 10, 10, 255]));
    for y in 0..4 {
        for x in 0..4 {
            frame.put_pixel(x, y, Rgba([0, 0, 0, 0]));
        }
    }
    let frame = save(dir.path(), "f_20240226.png", &frame);
    let c = Composer::new((8, 4), Some(&basemap), false).unwrap();
    let out = c.frame(&frame, noon()).unwrap();
    assert_eq!(
        out.get_pixel(1, 1),
        &Rgb([0, 0, 200]),
        "the basemap, scaled"
    );
    assert_eq!(out.get_pixel(6, 2), &Rgb([250, 10, 10]), "the data");
    assert_eq!(c.basemap(noon()).get_pixel(6, 2), &Rgb([0, 0, 200]));
    assert_eq!(c.blank(noon()).get_pixel(6, 2), &Rgb([0, 0, 0]));
}

#[test]
fn odd_frames_are_padded_and_other_sizes_fitted() {
    let dir = tempfile::tempdir().unwrap();
    let odd = save(
        dir.path(),
        "odd.png",
        &RgbaImage::from_pixel(7, 3, Rgba([9, 9, 9, 255])),
    );
    assert_eq!(even((7, 3)), (8, 4));
    let c = Composer::new((7, 3), None, false).unwrap();
    assert_eq!(c.size(), (8, 4));
    let out = c.frame(&odd, noon()).unwrap();
    assert_eq!(out.dimensions(), (8, 4));
    assert_eq!(out.get_pixel(0, 0), &Rgb([9, 9, 9]), "not scaled: placed");
    assert_eq!(out.get_pixel(7, 3), &Rgb([0, 0, 0]), "the padding");
    // A 2:1 frame in a 16x16 picture: 16x8, centred.
    let wide = save(
        dir.path(),
        "wide.png",
        &RgbaImage::from_pixel(4, 2, Rgba([9, 9, 9, 255])),
    );
    let out = Composer::new((16, 16), None, false)
        .unwrap()
        .frame(&wide, noon())
        .unwrap();
    assert_eq!(out.get_pixel(8, 1), &Rgb([0, 0, 0]));
    assert_eq!(out.get_pixel(8, 8), &Rgb([9, 9, 9]));
    assert_eq!(out.get_pixel(8, 14), &Rgb([0, 0, 0]));
}

#[test]
fn unreadable_images_and_mixed_sizes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a_20240101.png", &RgbaImage::new(8, 4));
    let b = save(dir.path(), "b_20240102.png", &RgbaImage::new(8, 4));
    let c = save(dir.path(), "c_20240103.png", &RgbaImage::new(6, 4));
    assert_eq!(common_size(&[a.clone(), b.clone()]).unwrap(), (8, 4));
    let e = common_size(&[a.clone(), b, c]).unwrap_err().to_string();
    assert!(e.contains("2 at 8x4 (first a_20240101.png)"), "{e}");
    assert!(e.contains("1 at 6x4 (first c_20240103.png)"), "{e}");
    assert!(e.contains("--size"), "{e}");

    let corrupt = dir.path().join("d_20240104.png");
    let mut bytes = std::fs::read(&a).unwrap();
    bytes.truncate(bytes.len() / 2);
    bytes.extend_from_slice(&[0xAB; 40]);
    std::fs::write(&corrupt, bytes).unwrap();
    let e = Composer::new((8, 4), None, false)
        .unwrap()
        .frame(&corrupt, noon())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("d_20240104.png") && e.contains("not a readable image"),
        "{e}"
    );

    let text = dir.path().join("basemap.png");
    std::fs::write(&text, "not an image").unwrap();
    let e = Composer::new((8, 4), Some(&text), false)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with("basemap ") && e.contains("basemap.png"),
        "{e}"
    );
    assert!(Composer::new((0, 4), None, false).is_err());
}

#[test]
fn the_label_is_drawn_bottom_left_and_clipped_to_small_pictures() {
    let mut big = RgbImage::from_pixel(320, 160, Rgb([0, 0, 200]));
    label::draw(&mut big, "2024-02-26 12:00 UTC");
    let white = big.pixels().filter(|p| p.0 == [255, 255, 255]).count();
    assert!(white > 100, "{white} white pixels");
    assert_eq!(
        big.get_pixel(319, 0),
        &Rgb([0, 0, 200]),
        "top right untouched"
    );
    assert_eq!(big.get_pixel(2, 150), &Rgb([0, 0, 0]), "the box");
    // A picture smaller than the box: clipped to it, not a panic.
    let mut tiny = RgbImage::from_pixel(6, 4, Rgb([0, 0, 200]));
    label::draw(&mut tiny, "2024-02-26 12:00 UTC");
    assert_eq!(tiny.get_pixel(0, 0), &Rgb([0, 0, 200]), "the margin");
    assert_ne!(tiny.get_pixel(3, 1), &Rgb([0, 0, 200]), "the box, clipped");
}

#[test]
fn ftp_urls_keep_their_password_out_of_sight() {
    let s =
        FtpSource::parse("ftp://sci%40lab:p%3Ass@ftp.example.org:2121/SOS/Drought%20Risk").unwrap();
    assert_eq!(
        (s.host.as_str(), s.port, s.user.as_str()),
        ("ftp.example.org", 2121, "sci@lab")
    );
    assert_eq!(s.dir, "/SOS/Drought Risk");
    assert_eq!(s.tls, Tls::WhenOffered);
    let shown = format!("{s} {s:?}");
    assert!(
        !shown.contains("p:ss") && !shown.contains("p%3Ass"),
        "{shown}"
    );
    let anon = FtpSource::parse("ftps://ftp.nnvl.noaa.gov/rt").unwrap();
    assert_eq!(
        (anon.user.as_str(), anon.port, anon.tls),
        ("anonymous", 21, Tls::Required)
    );
    for bad in ["http://x/y", "ftp://", "ftp://host:99999/x", "not a url"] {
        let e = FtpSource::parse(bad).unwrap_err().to_string();
        assert!(e.contains("not an FTP folder"), "{bad}: {e}");
    }
    assert_eq!(redact("ftp://u:secret@h/d"), "ftp://u:***@h/d");
    let e = FtpSource::parse("gopher://u:secret@h/d")
        .unwrap_err()
        .to_string();
    assert!(!e.contains("secret"), "{e}");
}

#[test]
fn frame_files_are_told_by_extension() {
    assert!(is_frame_name("pw_20240226_1900.JPG"));
    assert!(is_frame_name("a.png") && is_frame_name("a.jpeg"));
    assert!(!is_frame_name("notes.txt") && !is_frame_name("png"));
}
