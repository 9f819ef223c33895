// The EICAR anti-malware test file: an operator's end-to-end check of the pipeline. Tagged
// `test`, not `malware`, so that a test mail shows the hit without raising the verdict.

rule spamhattan_eicar_test_file : test
{
    meta:
        description = "EICAR anti-malware test file"
        author = "spamhattan"
        reference = "https://www.eicar.org/download-anti-malware-testfile/"

    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

    condition:
        $eicar
}
