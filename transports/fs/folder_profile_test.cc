// What the fs transport decides per filesystem from /proc/self/mountinfo.
#include "transports/fs/folder_profile.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transports/fs/ring_file.h"

namespace fstun::fs {
namespace {

using ::testing::HasSubstr;

std::string Line(const std::string& mount_point, const std::string& type,
                 const std::string& super_options) {
  return "36 25 0:42 / " + mount_point + " rw,relatime shared:1 - " + type + " src " +
         super_options + "\n";
}

FolderProfile Detect(const std::string& mountinfo, const std::string& path = "/share/fs") {
  return DetectFolderProfile(path, -1, &mountinfo);
}

TEST(FolderProfileTest, NfsWithDefaultLookupCacheRevalidatesTheInbox) {
  const std::string info =
      Line("/", "ext4", "rw") + Line("/share", "nfs4", "rw,vers=4.2,acdirmin=30,addr=198.51.100.2");
  FolderProfile p = Detect(info);
  EXPECT_EQ(p.type, "nfs4");
  EXPECT_EQ(p.mount_point, "/share");
  EXPECT_TRUE(p.refresh_dir_attributes);
  EXPECT_TRUE(p.revalidates());
  EXPECT_TRUE(p.refusal.empty());
  EXPECT_THAT(p.Describe(), HasSubstr("lookupcache=positive"));
}

TEST(FolderProfileTest, NfsWithoutNegativeCachingNeedsNothing) {
  FolderProfile p = Detect(Line("/share", "nfs", "rw,vers=3,lookupcache=positive"));
  EXPECT_EQ(p.type, "nfs");
  EXPECT_FALSE(p.revalidates());
}

TEST(FolderProfileTest, SmbLooksUpWithoutOpenIntent) {
  FolderProfile p = Detect(Line("/share", "cifs", "rw,vers=3.1.1,actimeo=1,closetimeo=5"));
  EXPECT_TRUE(p.lookup_without_intent);
  EXPECT_FALSE(p.refresh_dir_attributes);
}

TEST(FolderProfileTest, NinePLooseIsRefusedWithRemountAdvice) {
  for (const std::string cache : {"cache=loose", "cache=fscache", "cache=0xf"}) {
    FolderProfile p = Detect(Line("/share", "9p", "rw,trans=virtio," + cache));
    EXPECT_THAT(p.refusal, HasSubstr("cache=mmap")) << cache;
    EXPECT_THAT(p.refusal, HasSubstr("mount -t 9p")) << cache;
  }
  for (const std::string cache : {"cache=mmap", "cache=none", "trans=virtio"}) {
    FolderProfile p = Detect(Line("/share", "9p", "rw," + cache));
    EXPECT_TRUE(p.refusal.empty()) << cache;
    EXPECT_FALSE(p.revalidates()) << cache;
    // It forgets names at close: a record's name goes while it is open.
    EXPECT_TRUE(p.unlink_while_open) << cache;
  }
}

TEST(FolderProfileTest, FoldersServedByAnotherKernelAreRemote) {
  for (const std::string type : {"9p", "virtiofs", "nfs", "nfs4", "cifs", "smb3", "fuse.sshfs",
                                 "vboxsf", "fuse.vmhgfs-fuse"}) {
    EXPECT_TRUE(Detect(Line("/share", type, "rw")).remote) << type;
  }
  for (const std::string type : {"tmpfs", "ext4", "xfs", "fuse.bindfs", "overlay"}) {
    EXPECT_FALSE(Detect(Line("/share", type, "rw")).remote) << type;
  }
}

TEST(FolderProfileTest, OnlyNinePRemovesARecordWhileItIsOpen) {
  // NFS would rename an open file (.nfsXXXX) instead of removing it.
  for (const std::string type : {"nfs", "nfs4", "cifs", "tmpfs", "virtiofs", "fuse.sshfs"}) {
    EXPECT_FALSE(Detect(Line("/share", type, "rw")).unlink_while_open) << type;
  }
}

TEST(FolderProfileTest, LongestContainingMountPointWinsAndEscapesAreDecoded) {
  const std::string info = Line("/", "ext4", "rw") + Line("/mnt/my\\040share", "cifs", "rw") +
                           Line("/mnt/my", "tmpfs", "rw");
  FolderProfile p = Detect(info, "/mnt/my share/fs");
  EXPECT_EQ(p.mount_point, "/mnt/my share");
  EXPECT_EQ(p.type, "cifs");
  // "/mnt/my" is not a containing mount of "/mnt/myother".
  EXPECT_EQ(Detect(info, "/mnt/myother").type, "ext4");
}

TEST(FolderProfileTest, LocalAndFuseFoldersNeedNothing) {
  for (const std::string type : {"tmpfs", "ext4", "virtiofs", "fuse.sshfs", "fuse.bindfs"}) {
    FolderProfile p = Detect(Line("/share", type, "rw"));
    EXPECT_FALSE(p.revalidates()) << type;
    EXPECT_TRUE(p.refusal.empty()) << type;
  }
}

// The ring store's files: a held plain handle where one kernel serves the
// folder, O_DIRECT on shares; and where a miss leaves a negative lookup
// entry (NFS, SMB), an open that finds nothing looks again as the names
// store does, so a ring created after the first look is not hidden.
TEST(FolderProfileTest, RingFilesAreOpenedAsTheFilesystemNeeds) {
  RingIo nfs = ChooseRingIo(Detect(Line("/share", "nfs4", "rw,vers=4.2")));
  EXPECT_EQ(nfs.kind, RingIo::kDirect);
  EXPECT_TRUE(nfs.refresh_dir_attributes);
  RingIo nfs_positive = ChooseRingIo(Detect(Line("/share", "nfs", "rw,lookupcache=positive")));
  EXPECT_EQ(nfs_positive.kind, RingIo::kDirect);
  EXPECT_FALSE(nfs_positive.revalidates());
  RingIo smb = ChooseRingIo(Detect(Line("/share", "cifs", "rw,vers=3.1.1")));
  EXPECT_EQ(smb.kind, RingIo::kDirect);
  EXPECT_TRUE(smb.lookup_without_intent);
  EXPECT_TRUE(smb.gather_writes);
  EXPECT_TRUE(nfs.gather_writes);
  // NFS writes through the page cache and pushes each write to the server
  // (UNSTABLE, not O_DIRECT's FILE_SYNC); nowhere else.
  EXPECT_TRUE(nfs.buffered_writes);
  EXPECT_TRUE(nfs_positive.buffered_writes);
  EXPECT_TRUE(ChooseRingIo(Detect(Line("/share", "nfs", "rw,vers=3"))).buffered_writes);
  EXPECT_FALSE(smb.buffered_writes);
  for (const char* type : {"9p", "virtiofs", "fuse.sshfs", "fuse.bindfs"}) {
    RingIo io = ChooseRingIo(Detect(Line("/share", type, "rw,cache=mmap")));
    EXPECT_EQ(io.kind, RingIo::kDirect) << type;
    EXPECT_FALSE(io.revalidates()) << type;
    EXPECT_EQ(io.gather_writes, std::string(type) == "9p") << type;
    EXPECT_FALSE(io.buffered_writes) << type;
  }
  for (const char* type : {"tmpfs", "ext4"}) {
    RingIo io = ChooseRingIo(Detect(Line("/share", type, "rw")));
    EXPECT_EQ(io.kind, RingIo::kHeld) << type;
    EXPECT_FALSE(io.revalidates()) << type;
    EXPECT_FALSE(io.buffered_writes) << type;
  }
  EXPECT_EQ(ChooseRingIo(Detect(Line("/share", "vboxsf", "rw"))).kind, RingIo::kReopen);
}

}  // namespace
}  // namespace fstun::fs
