#include "engine/config/loader.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/config/manifest_schema.h"

namespace dataflow::config {

namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& kinds() {
  static const std::vector<std::string> k = {"DataflowEndpoint", "Dataflow", "DataflowProfile"};
  return k;
}

template <class T>
bool parseAs(const ObjectSpec<T>& spec, const Site& root, ParseContext& ctx, T& out) {
  if (!spec.parse(root, ctx, out)) return false;
  out.origin = Origin{ctx.file(), root.node, root.mark.line + 1};
  return true;
}

std::string nameOf(const YAML::Node& doc) {
  try {
    YAML::Node name = doc["metadata"]["name"];
    if (name && name.IsScalar()) return name.Scalar();
  } catch (const YAML::Exception&) {
  }
  return "";
}

void loadDocument(const YAML::Node& doc, ParseContext& ctx, Manifests& out) {
  Site root{doc, doc.Mark(), ""};
  if (!doc.IsMap()) {
    ctx.error(root, "a manifest must be a mapping with apiVersion, kind, metadata and spec; got " +
                        describe(doc));
    return;
  }
  YAML::Node api = doc["apiVersion"];
  YAML::Node kind = doc["kind"];
  if (api && api.IsScalar() && kind && kind.IsScalar()) {
    const std::string& version = api.Scalar();
    if (version.rfind(std::string(kGroup) + "/", 0) != 0) {
      ctx.warning(root, "skipped " + kind.Scalar() + " of apiVersion \"" + version + "\": not a " +
                            kGroup + " manifest");
      return;
    }
  }
  if (!kind) {
    ctx.error(root, "missing required field \"kind\"; expected one of " + joinNames(kinds()));
    return;
  }
  if (!kind.IsScalar()) {
    ctx.error(root.field("kind"),
              "expected one of " + joinNames(kinds()) + ", got " + describe(kind));
    return;
  }
  const std::string& k = kind.Scalar();
  if (k == "DataflowEndpoint") {
    DataflowEndpoint e;
    if (parseAs(endpointSchema(), root, ctx, e)) {
      out.endpoints.push_back(std::move(e));
    } else {
      out.invalid_endpoints.insert(nameOf(doc));
    }
  } else if (k == "Dataflow") {
    Dataflow d;
    if (parseAs(dataflowSchema(), root, ctx, d)) out.dataflows.push_back(std::move(d));
  } else if (k == "DataflowProfile") {
    DataflowProfile p;
    if (parseAs(profileSchema(), root, ctx, p)) {
      out.profiles.push_back(std::move(p));
    } else {
      out.invalid_profiles.insert(nameOf(doc));
    }
  } else {
    Site kind_site{kind, kind.Mark(), "kind"};
    std::string message = "unknown kind \"" + k + "\"; expected one of " + joinNames(kinds());
    if (std::string near = nearest(k, kinds()); !near.empty()) {
      message += " (did you mean \"" + near + "\"?)";
    }
    ctx.error(kind_site, message);
  }
}

void loadFile(const fs::path& path, Manifests& out, Diagnostics& diagnostics) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (!ec && size > kMaxManifestBytes) {
    diagnostics.error(path.string(), 0, 0, "",
                      "file is " + std::to_string(size) + " bytes; manifests are limited to " +
                          std::to_string(kMaxManifestBytes));
    return;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.error(path.string(), 0, 0, "", "cannot read file");
    return;
  }
  std::ostringstream text;
  text << in.rdbuf();
  loadText(text.str(), path.string(), out, diagnostics);
}

bool isManifestFile(const fs::path& p) {
  std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

// yaml-cpp 0.7's LoadAll loops forever, allocating, when the parser cannot consume a token at
// the top level (a stray ',' is enough: jbeder/yaml-cpp#1040, fixed upstream after 0.7). This
// event-only pass finds that state before LoadAll runs: the parser then starts one document
// after another at the same position. Returns the position, or a null mark when the text is safe.
class StuckParserProbe final : public YAML::EventHandler {
 public:
  static YAML::Mark find(const std::string& text) {
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    StuckParserProbe probe;
    YAML::Mark previous = YAML::Mark::null_mark();
    size_t empty_in_a_row = 0;
    while (parser.HandleNextDocument(probe)) {
      bool same = probe.start_.pos == previous.pos && probe.events_ <= 1;
      empty_in_a_row = same ? empty_in_a_row + 1 : 0;
      if (empty_in_a_row >= 2) return probe.start_;
      previous = probe.start_;
    }
    return YAML::Mark::null_mark();
  }

  void OnDocumentStart(const YAML::Mark& mark) override {
    start_ = mark;
    events_ = 0;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { ++events_; }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { ++events_; }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    events_ += 2;
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    events_ += 2;
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    events_ += 2;
  }
  void OnMapEnd() override {}

 private:
  YAML::Mark start_;
  size_t events_ = 0;
};

}  // namespace

void loadText(const std::string& text, const std::string& file, Manifests& out,
              Diagnostics& diagnostics) {
  if (text.size() > kMaxManifestBytes) {
    diagnostics.error(
        file, 0, 0, "",
        "manifest text is larger than " + std::to_string(kMaxManifestBytes) + " bytes");
    return;
  }
  std::vector<YAML::Node> documents;
  try {
    if (YAML::Mark stuck = StuckParserProbe::find(text); stuck.line >= 0) {
      diagnostics.error(file, stuck.line + 1, stuck.column + 1, "",
                        "YAML syntax error: unexpected character here (not the start of a value)");
      return;
    }
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    int line = e.mark.line < 0 ? 0 : e.mark.line + 1;
    int column = e.mark.column < 0 ? 0 : e.mark.column + 1;
    diagnostics.error(file, line, column, "", "YAML syntax error: " + e.msg);
    return;
  } catch (const std::exception& e) {
    diagnostics.error(file, 0, 0, "", std::string("YAML could not be read: ") + e.what());
    return;
  }
  ParseContext ctx(diagnostics, file);
  for (const YAML::Node& doc : documents) {
    if (!doc.IsDefined() || doc.IsNull()) continue;  // empty document, e.g. a trailing ---
    try {
      loadDocument(doc, ctx, out);
    } catch (const YAML::Exception& e) {
      // yaml-cpp can throw on pathological input (e.g. deep recursion); one error, no crash.
      diagnostics.error(file, e.mark.line + 1, e.mark.column + 1, "", "YAML error: " + e.msg);
    }
  }
}

std::vector<std::string> manifestFilesIn(const std::string& folder, std::error_code& ec) {
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(folder, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && isManifestFile(it->path())) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void loadPaths(const std::vector<std::string>& paths, Manifests& out, Diagnostics& diagnostics) {
  for (const std::string& p : paths) {
    std::error_code ec;
    fs::path path(p);
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> files = manifestFilesIn(p, ec);
      if (ec) diagnostics.error(p, 0, 0, "", "cannot read folder: " + ec.message());
      if (files.empty() && !ec) {
        diagnostics.warning(p, 0, 0, "", "folder has no *.yaml or *.yml files");
      }
      for (const std::string& f : files) loadFile(f, out, diagnostics);
    } else if (fs::exists(path, ec)) {
      loadFile(path, out, diagnostics);
    } else {
      diagnostics.error(p, 0, 0, "", "no such file or folder");
    }
  }
}

}  // namespace dataflow::config
