use super::*;

#[test]
fn opf_calibre_and_epub3() {
    let opf = r##"<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
 <metadata>
  <dc:title>Opf Title</dc:title>
  <dc:creator opf:role="aut">Ann Author</dc:creator>
  <dc:creator opf:role="nrt">Ned Narrator</dc:creator>
  <dc:creator id="c3">Rita Reader</dc:creator>
  <meta refines="#c3" property="role" scheme="marc:relators">nrt</meta>
  <dc:date>2011-04-01</dc:date>
  <dc:publisher>Pub House</dc:publisher>
  <dc:identifier opf:scheme="ISBN">9780000000001</dc:identifier>
  <dc:identifier opf:scheme="ASIN">B000000001</dc:identifier>
  <dc:description>&lt;p&gt;Opf desc&lt;/p&gt;</dc:description>
  <dc:subject>Fantasy</dc:subject>
  <dc:language>en</dc:language>
  <meta name="calibre:series" content="Opf Saga"/>
  <meta name="calibre:series_index" content="3"/>
 </metadata>
</package>"##;
    let p = parse_opf(opf);
    assert_eq!(p.title.as_deref(), Some("Opf Title"));
    assert_eq!(p.authors, ["Ann Author"]);
    assert_eq!(p.narrators, ["Ned Narrator", "Rita Reader"]);
    assert_eq!(p.published_year.as_deref(), Some("2011"));
    assert_eq!(p.isbn.as_deref(), Some("9780000000001"));
    assert_eq!(p.asin.as_deref(), Some("B000000001"));
    assert_eq!(p.series, [("Opf Saga".to_string(), Some("3".to_string()))]);
    assert_eq!(p.genres, ["Fantasy"]);
    assert_eq!(p.description.as_deref(), Some("<p>Opf desc</p>"));
    assert_eq!(parse_opf("<not xml"), MetaPatch::default());
}

#[test]
fn nfo_fields() {
    let nfo = "General Information\n===\nTitle: Nfo Title: A Subtitle\nAuthor: Nora Writer\n\
Read By: Val Voice\nSeries Name: Nfo Saga\nPosition in Series: 4\nGenre: Mystery / Crime\n\
Copyright: 2003\nUnabridged: Yes\nPublisher: Nfo Pub\nDescription:\nLine one.\nLine two.\n";
    let p = parse_nfo(nfo);
    assert_eq!(p.title.as_deref(), Some("Nfo Title"));
    assert_eq!(p.subtitle.as_deref(), Some("A Subtitle"));
    assert_eq!(p.authors, ["Nora Writer"]);
    assert_eq!(p.narrators, ["Val Voice"]);
    assert_eq!(p.series, [("Nfo Saga".to_string(), Some("4".to_string()))]);
    assert_eq!(p.genres, ["Mystery", "Crime"]);
    assert_eq!(p.published_year.as_deref(), Some("2003"));
    assert_eq!(p.abridged, Some(false));
    assert_eq!(p.description.as_deref(), Some("Line one.\nLine two."));
}

#[test]
fn txt_files() {
    let p = parse_txt(
        Some("Plain description"),
        Some("\n Reader Person \nignored"),
    );
    assert_eq!(p.description.as_deref(), Some("Plain description"));
    assert_eq!(p.narrators, ["Reader Person"]);
}

#[test]
fn abs_metadata_json() {
    let j = r#"{"tags":["fav"],"chapters":[{"id":0,"start":0,"end":5,"title":"One"}],
      "title":"Json Title","subtitle":null,"authors":["J Author"],"narrators":["J Narr"],
      "series":["Json Saga #2.5"],"genres":["Sci-Fi"],"publishedYear":"1990",
      "publisher":"JP","description":"d","isbn":null,"asin":"B0JSON0000","language":"de",
      "explicit":true,"abridged":false}"#;
    let p = parse_abs_json(j);
    assert_eq!(p.title.as_deref(), Some("Json Title"));
    assert_eq!(
        p.series,
        [("Json Saga".to_string(), Some("2.5".to_string()))]
    );
    assert_eq!(p.chapters.len(), 1);
    assert_eq!(p.explicit, Some(true));
    assert_eq!(p.tags, ["fav"]);
    assert_eq!(parse_abs_json("{broken"), MetaPatch::default());
}
