/**
 * The recipe end to end on CPU, with tiny Qwen3 models (real vocabulary, random initialisation): the curator
 * builds a small Thai SFT set, a legal corpus and RL prompts; the trainer trains a teacher by SFT, then a student
 * by SFT, distils the teacher into it on-policy, and finishes with InK-GRPO on prompts whose answers are
 * verifiable (token F1 against the reference). Each stage starts from the checkpoint the one before wrote.
 * Checked: the SFT loss falls and the student's KL to the teacher falls; InK-GRPO runs with its next-token term
 * in some updates. GRPO's mean reward rising is checked on a task the SFT policy already answers some of the time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStack, engineAvailable, type TestStack, waitForRun } from "./helpers";

/**
 * Short legal questions with one- or two-word answers, so a tiny model can learn them in a few steps. Most ask
 * for the name of a wrong, which the RL task below asks about in new cases.
 */
const QA: [string, string][] = [
  ["การกระทำโดยจงใจหรือประมาทเลินเล่อให้ผู้อื่นเสียหายเรียกว่าอะไร", "ละเมิด"],
  ["ผู้ที่ทำให้ผู้อื่นเสียหายโดยผิดกฎหมายได้กระทำสิ่งใด", "ละเมิด"],
  ["ทำร้ายร่างกายผู้อื่นจนบาดเจ็บ ในทางแพ่งเป็นการกระทำใด", "ละเมิด"],
  ["ทำให้ทรัพย์สินของผู้อื่นเสียหายโดยประมาท เป็นการกระทำใด", "ละเมิด"],
  ["ผู้ใดต้องใช้ค่าสินไหมทดแทนเพราะทำผิดต่อผู้อื่น เขาได้ทำสิ่งใด", "ละเมิด"],
  ["บุคคลบรรลุนิติภาวะเมื่ออายุเท่าใด", "ยี่สิบปีบริบูรณ์"],
  ["นิติกรรมที่ขัดต่อกฎหมายมีผลอย่างไร", "เป็นโมฆะ"],
  ["อายุความทั่วไปตามประมวลกฎหมายแพ่งคือกี่ปี", "สิบปี"],
];

/**
 * The RL task: name the wrong. Every prompt's verifiable answer is the same word; the first prompts are the SFT
 * set's own questions and the rest new cases, so the policy answers it some of the time after SFT and
 * distillation, and GRPO has a signal to follow.
 */
const RL_PROMPTS = [
  ...QA.filter(([, a]) => a === "ละเมิด").map(([q]) => q),
  "ขับรถโดยประมาทชนรถของผู้อื่นเสียหาย เป็นการกระทำใด",
  "จงใจทำลายทรัพย์สินของเพื่อนบ้าน เป็นการกระทำใด",
  "ปล่อยสุนัขไปกัดผู้อื่นบาดเจ็บ เจ้าของได้กระทำสิ่งใด",
];

const CORPUS = [
  "มาตรา ๔๒๐ ผู้ใดจงใจหรือประมาทเลินเล่อ ทำต่อบุคคลอื่นโดยผิดกฎหมายให้เขาเสียหาย ท่านว่าผู้นั้นทำละเมิด จำต้องใช้ค่าสินไหมทดแทนเพื่อการนั้น",
  "มาตรา ๑๙ บุคคลย่อมพ้นจากภาวะผู้เยาว์และบรรลุนิติภาวะเมื่ออายุยี่สิบปีบริบูรณ์",
  "มาตรา ๑๕๐ การใดมีวัตถุประสงค์เป็นการต้องห้ามชัดแจ้งโดยกฎหมาย เป็นการพ้นวิสัย หรือเป็นการขัดขวางต่อความสงบเรียบร้อย การนั้นเป็นโมฆะ",
  "มาตรา ๑๙๓/๓๐ อายุความนั้น ถ้าประมวลกฎหมายนี้หรือกฎหมายอื่นมิได้บัญญัติไว้โดยเฉพาะ ให้มีกำหนดสิบปี",
];

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe.skipIf(!engineAvailable)(
  "the recipe: SFT, on-policy distillation, InK-GRPO",
  { timeout: 900_000 },
  () => {
    let stack: TestStack;
    let train: string;
    let corpus: string;
    let prompts: string;

    beforeAll(async () => {
      stack = await createStack();
      train = await stack.version(
        "recipe-sft",
        "chat",
        QA.map(([q, a], i) => ({
          id: `qa${i}`,
          messages: [
            { role: "user", content: q },
            { role: "assistant", content: a },
          ],
        })),
      );
      corpus = await stack.version(
        "recipe-corpus",
        "text",
        CORPUS.map((text, i) => ({ id: `s${i}`, text })),
      );
      prompts = await stack.version(
        "recipe-prompts",
        "rl-prompt",
        RL_PROMPTS.map((q, i) => ({
          id: `p${i}`,
          prompt: [{ role: "user", content: q }],
          reward_model: { style: "rule", ground_truth: JSON.stringify({ answer: "ละเมิด" }) },
        })),
      );
    }, 300_000);

    afterAll(async () => {
      await stack?.cleanup();
    });

    /** Queue a run and wait for it; returns the run with its metrics, failing with the engine's output. */
    const train_ = async (spec: Record<string, unknown>) => {
      const res = await stack.post("/v1/training/runs", spec);
      expect(res.status, await res.clone().text()).toBe(202);
      const run = await waitForRun(stack, ((await res.json()) as { id: string }).id);
      expect(run.status, `${run.error}\n${run.logTail}`).toBe("succeeded");
      return run;
    };
    const series = (run: Awaited<ReturnType<typeof train_>>, key: string) =>
      run.metrics.filter((m) => m.rank === 0).map((m) => m.metrics[key] as number);
    const finalCheckpoint = (run: Awaited<ReturnType<typeof train_>>) => {
      const last = run.checkpoints.at(-1);
      if (!last) throw new Error(`run ${run.id} wrote no checkpoint`);
      return last.path;
    };

    it("runs the three stages, each from the last one's checkpoint, improving what it optimizes", async () => {
      const sftHyper = { seqLen: 64, rowsPerStep: 4, lr: 2e-2, warmupSteps: 2, checkpointEvery: 0 };
      const teacher = await train_({
        name: "teacher",
        stage: "sft",
        model: { tiny: "tiny-2", seed: 7 },
        datasets: { train },
        hyper: { ...sftHyper, totalSteps: 60 },
        seed: 1,
      });
      const teacherLoss = series(teacher, "loss");
      expect(mean(teacherLoss.slice(-3))).toBeLessThan(mean(teacherLoss.slice(0, 3)) * 0.3);

      const student = await train_({
        name: "student-sft",
        stage: "sft",
        model: { tiny: "tiny", seed: 11 },
        datasets: { train },
        hyper: { ...sftHyper, totalSteps: 20 },
        seed: 2,
      });
      const studentLoss = series(student, "loss");
      expect(mean(studentLoss.slice(-3))).toBeLessThan(mean(studentLoss.slice(0, 3)));

      const distilled = await train_({
        name: "student-opd",
        stage: "opd",
        model: { path: finalCheckpoint(student) },
        teacher: { path: finalCheckpoint(teacher) },
        datasets: { train },
        hyper: {
          totalSteps: 16,
          seqLen: 64,
          rowsPerStep: 4,
          lr: 2e-3,
          lambda: 0.5,
          maxTokens: 16,
          checkpointEvery: 0,
        },
        seed: 3,
      });
      const kl = series(distilled, "kl");
      expect(mean(kl.slice(-4))).toBeLessThan(mean(kl.slice(0, 4)));

      const rl = await train_({
        name: "student-ink-grpo",
        stage: "ink-grpo",
        model: { path: finalCheckpoint(distilled) },
        datasets: { prompts, corpus },
        // Fine-tuning rates: Adam's first steps move every weight by about the learning rate, so the rate that
        // trains a tiny model from scratch (2e-2) would undo what SFT taught it.
        hyper: {
          totalSteps: 16,
          seqLen: 64,
          rowsPerStep: 4,
          lr: 2e-3,
          groupSize: 8,
          maxTokens: 12,
          temperature: 1,
          checkpointEvery: 0,
        },
        seed: 4,
      });
      // At this scale the chained policy answers the RL task rarely, so its reward is only checked to be
      // measured every step; that GRPO raises a reward is checked on its own below.
      const reward = series(rl, "reward_mean");
      expect(reward).toHaveLength(16);
      for (const r of reward) expect(r >= 0 && r <= 1).toBe(true);
      const applied = series(rl, "ce_applied");
      expect(applied.some((v) => v === 1) && applied.some((v) => v === 0)).toBe(true);
    });

    it("raises the mean reward with GRPO on a verifiable task the SFT policy answers some of the time", async () => {
      const cases = await stack.version(
        "grpo-sft",
        "chat",
        Array.from({ length: 8 }, (_, i) => ({
          id: `q${i}`,
          messages: [
            { role: "user", content: `คำถาม ${i} เป็นการกระทำใด` },
            { role: "assistant", content: "ละเมิด" },
          ],
        })),
      );
      const casePrompts = await stack.version(
        "grpo-prompts",
        "rl-prompt",
        Array.from({ length: 4 }, (_, i) => ({
          id: `p${i}`,
          prompt: [{ role: "user", content: `กรณี ${i} เป็นการกระทำใด` }],
          reward_model: { style: "rule", ground_truth: JSON.stringify({ answer: "ละเมิด" }) },
        })),
      );
      const sft = await train_({
        name: "grpo-base",
        stage: "sft",
        model: { tiny: "tiny", seed: 1 },
        datasets: { train: cases },
        hyper: { totalSteps: 20, seqLen: 64, rowsPerStep: 4, lr: 2e-2, warmupSteps: 2, checkpointEvery: 0 },
      });
      const grpo = await train_({
        name: "grpo",
        stage: "grpo",
        model: { path: finalCheckpoint(sft) },
        datasets: { prompts: casePrompts },
        hyper: {
          totalSteps: 16,
          seqLen: 64,
          rowsPerStep: 4,
          groupSize: 8,
          maxTokens: 12,
          lr: 2e-3,
          checkpointEvery: 0,
        },
      });
      const reward = series(grpo, "reward_mean");
      expect(reward).toHaveLength(16);
      // The policy starts by answering some of the time (a signal to follow), and answers more often at the end.
      expect(mean(reward.slice(0, 5))).toBeGreaterThan(0.05);
      expect(mean(reward.slice(-5))).toBeGreaterThan(mean(reward.slice(0, 5)) + 0.05);
    });
  },
);
