#include "core/fsck_objects.h"

#include "core/rados_chunk_store.h"

namespace acidfs::fsck {

namespace {

constexpr size_t kExamples = 3;

std::string ageText(std::chrono::milliseconds age) {
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(age).count();
  if (minutes >= 60 && minutes % 60 == 0) return std::to_string(minutes / 60) + " h";
  if (minutes >= 1) return std::to_string(minutes) + " min";
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) + " s";
}

}  // namespace

Result<RadosObjects> RadosObjects::list(const RadosChunkStore& rados) {
  RadosObjects objects(rados);
  ACIDFS_RETURN_IF_ERROR(rados.listObjects([&](const RadosChunkStore::Object& object) {
    if (object.ours) {
      objects.ours_[object.name] = Seen{object.size, object.mtime, false};
    } else if (objects.foreign_++ < kExamples) {
      objects.foreignExamples_.push_back(object.name);
    }
  }));
  return objects;
}

Status RadosObjects::match(const Id128& id, const ChunkRecord& record) {
  if (record.isInline || record.segment != kRadosPlace) return Status::OK();
  const std::string name = RadosChunkStore::objectName(id, record.offset);
  auto it = ours_.find(name);
  if (it == ours_.end()) {
    // Put after the listing (a daemon serving meanwhile), or lost.
    ACIDFS_ASSIGN_OR_RETURN(std::optional<RadosChunkStore::Object> object, rados_->stat(name));
    if (!object)
      return Status::Error(EIO, "chunk " + id.hex() + ": its RADOS object " + name + " is missing: the chunk's bytes are lost");
    it = ours_.emplace(name, Seen{object->size, object->mtime, false}).first;
  }
  it->second.named = true;
  if (it->second.size != record.length)
    return Status::Error(EIO, "chunk " + id.hex() + ": its RADOS object " + name + " holds " + std::to_string(it->second.size) +
                                  " bytes, its record says " + std::to_string(record.length) + ": the chunk's bytes are lost");
  return Status::OK();
}

void RadosObjects::finish(FsckReport& report, bool repair) {
  FsckReport::Objects counts;
  counts.foreign = foreign_;
  std::vector<std::string> orphans;
  for (const auto& [name, seen] : ours_) {
    if (seen.named) {
      counts.named++;
    } else if (!rados_->pastSweepAge(seen.mtime)) {
      counts.pending++;
    } else {
      counts.orphans++;
      orphans.push_back(name);
    }
  }
  const std::string pool = "RADOS pool " + rados_->pool() + ": ";
  const std::string age = ageText(rados_->sweepAge());
  if (counts.pending > 0)
    report.notes.push_back(pool + std::to_string(counts.pending) + " object(s) no chunk record names, younger than " + age +
                           ": puts whose transactions may still commit, on any host (left alone)");
  if (counts.orphans > 0) {
    std::string note = pool + std::to_string(counts.orphans) + " orphan object(s) no chunk record names, older than " + age +
                       " (e.g. " + orphans.front() + "): puts whose transactions never committed, or freed objects "
                       "waiting out their grace period; a mount's next sweep deletes them";
    report.notes.push_back(note + (repair ? "" : ", and so does --repair"));
  }
  if (counts.foreign > 0) {
    std::string examples;
    for (const std::string& name : foreignExamples_) examples += (examples.empty() ? "" : ", ") + name;
    report.notes.push_back(pool + std::to_string(counts.foreign) + " object(s) whose names acidfs never makes (" + examples +
                           (counts.foreign > foreignExamples_.size() ? ", ..." : "") + "), left alone");
  }
  if (repair) {
    uint64_t deleted = 0;
    for (const std::string& name : orphans) {
      Status s = rados_->removeNow(name);
      if (s.ok()) {
        deleted++;
      } else {
        report.notes.push_back(pool + "orphan object " + name + " not deleted: " + s.message());
      }
    }
    if (deleted > 0) report.repairs.push_back(pool + "deleted " + std::to_string(deleted) + " orphan object(s)");
  }
  report.objects = counts;
}

}  // namespace acidfs::fsck
