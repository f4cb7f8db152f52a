"""Runs a command on a fresh pseudo-terminal of a given size, types into it once a shell prompt
shows ("<wait>" in the text pauses a second, "<resize R C>" resizes the terminal), and prints what the terminal showed; exits with
the command's status. Used by tty.test.ts."""
import fcntl, os, pty, re, select, struct, sys, termios, time

rows, cols, typed = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
command = sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
output = b''
deadline = time.time() + 30
sent = False
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    # Type once the container's shell has printed its prompt.
    if not sent and b'# ' in output:
        for part in re.split(r'(<wait>|<resize \d+ \d+>)', typed):
            if part == '<wait>':
                time.sleep(1)
            elif part.startswith('<resize'):
                r, c = map(int, part[8:-1].split())
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
                time.sleep(0.3)
            else:
                os.write(fd, part.encode())
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(output.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(status))
