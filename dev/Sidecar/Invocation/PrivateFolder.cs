using System.Runtime.InteropServices;

namespace Platform.Sidecar.Invocation;

/// <summary>
/// The name registry's folder and its <c>.internal-token</c> must be this user's alone: whoever can read the token can
/// pose as a peer sidecar (claim any caller app-id), and whoever can write the folder can register fake replicas.
/// Folders and the token are created private from the start (0700 / 0600: no moment when others could read them),
/// and a folder or token that others can use, or that another user owns, is refused rather than repaired (its
/// token may have been read already). On Windows the per-user temp folder's ACLs do this job and nothing is checked.
/// </summary>
internal static class PrivateFolder
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode GroupOrOthers = (UnixFileMode)0b000_111_111;

    /// <summary>Creates <paramref name="folder"/> (0700) if it is missing, then checks that it is private.</summary>
    public static void Ensure(string folder)
    {
        Create(folder);
        if (!OperatingSystem.IsWindows())
        {
            Check(folder, $"Run `chmod 700 {folder}` and delete {Path.Combine(folder, ".internal-token")} (it may have been read; the next sidecar makes a new one), "
                + "or point PLATFORM_SIDECAR_REGISTRY (SidecarOptions.RegistryFolder) at a folder only you can use.");
        }
    }

    /// <summary>Creates a folder (0700) inside the private registry folder; what is already there is left as it is (the registry folder guards it).</summary>
    public static void Create(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
        }
        else
        {
            Directory.CreateDirectory(folder, OwnerOnly);
        }
    }

    /// <summary>Reads the token in <paramref name="file"/>, first writing a new random one (0600) if there is none.</summary>
    public static string LoadOrCreateToken(string file)
    {
        if (!File.Exists(file))
        {
            var temp = $"{file}.{Environment.ProcessId}.{Guid.NewGuid():N}";
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerReadWrite;
            }

            using (var stream = new FileStream(temp, options))
            {
                stream.Write(System.Text.Encoding.ASCII.GetBytes(Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))));
            }

            try
            {
                File.Move(temp, file, overwrite: false);
            }
            catch (IOException)
            {
                File.Delete(temp); // another sidecar wrote it first: use theirs
            }
        }

        if (!OperatingSystem.IsWindows())
        {
            Check(file, "Delete it (the next sidecar makes a new one that only you can read) and start again.");
        }

        return File.ReadAllText(file).Trim();
    }

    private static void Check(string path, string fix)
    {
        if (OperatingSystem.IsWindows())
        {
            return; // the per-user temp folder's ACLs guard it there
        }

        var (isLink, otherOwner, mode) = Inspect(path);
        if (isLink)
        {
            throw new RegistryFolderException(
                $"{path} is a symbolic link; the sidecar registry must be a real folder of yours (a link can be pointed elsewhere by whoever owns it). {fix}");
        }

        if (otherOwner is not null)
        {
            throw new RegistryFolderException(
                $"{path} is owned by {otherOwner}: its owner could read the sidecars' internal token or register fake sidecars. "
                + "Point PLATFORM_SIDECAR_REGISTRY (SidecarOptions.RegistryFolder) at a folder of your own.");
        }

        if ((mode & GroupOrOthers) != 0)
        {
            throw new RegistryFolderException(
                $"{path} can be read or written by other users (mode {Convert.ToString((int)mode, 8)}): anyone who reads the sidecars' internal token can pose as a peer sidecar. {fix}");
        }
    }

    /// <summary>Whether <paramref name="path"/> itself is a symbolic link, who owns it when that is not this user, and its permission bits.</summary>
    private static (bool IsLink, string? OtherOwner, UnixFileMode Mode) Inspect(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new NotSupportedException("Unix file modes only");
        }

        if (OperatingSystem.IsLinux())
        {
            try
            {
                // statx's buffer has one layout on every Linux architecture (unlike struct stat), so it can be read here.
                if (Native.Statx(Native.AtFdCwd, path, Native.AtSymlinkNoFollow, Native.StatxTypeModeUid, out var st) == 0)
                {
                    var me = Native.GetEuid();
                    return ((st.Mode & Native.TypeMask) == Native.TypeLink, st.Uid == me ? null : $"user {st.Uid}, not by you (user {me})", (UnixFileMode)(st.Mode & 0xFFF));
                }
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // Not glibc (or one without statx): the owner test below.
            }
        }

        // Elsewhere: only the owner (or root) may change a file's mode, so setting it to what it is tells the owner apart.
        var info = new FileInfo(path);
        var mode = File.GetUnixFileMode(path);
        try
        {
            File.SetUnixFileMode(path, mode);
            return (info.LinkTarget is not null, null, mode);
        }
        catch (UnauthorizedAccessException)
        {
            return (info.LinkTarget is not null, "another user, not by you", mode);
        }
    }

    private static class Native
    {
        public const int AtFdCwd = -100;
        public const int AtSymlinkNoFollow = 0x100;
        public const uint StatxTypeModeUid = 0x1 | 0x2 | 0x8; // STATX_TYPE | STATX_MODE | STATX_UID
        public const ushort TypeMask = 0xF000;
        public const ushort TypeLink = 0xA000;

        /// <summary>The head of Linux's <c>struct statx</c> (256 bytes in all).</summary>
        [StructLayout(LayoutKind.Sequential, Size = 256)]
        public struct StatxHead
        {
            public uint Mask;
            public uint BlockSize;
            public ulong Attributes;
            public uint Links;
            public uint Uid;
            public uint Gid;
            public ushort Mode;
        }

        [DllImport("libc.so.6", EntryPoint = "statx", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, out StatxHead buffer);

        [DllImport("libc.so.6", EntryPoint = "geteuid")]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern uint GetEuid();
    }
}
